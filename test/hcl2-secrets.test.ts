/**
 * A sensitive HCL2 variable (and a local made from it) leaks nowhere: not in `build`'s human,
 * `-machine-readable` or `--output json` output, not in `validate` or `inspect`, not in the
 * catalog (every table and the database's bytes). The value reaches kiln three ways — a
 * `.pkrvars.hcl` var file, `PKR_VAR_`, and a variable default — and the provisioner does
 * print it (raw, inside a longer string, base64-encoded), so redaction has work to do.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dumpCatalog } from './helpers/faults.js';
import { kiln } from './helpers/kiln.js';

const SECRET = 'tok-Zq8$x,"quoted"-7341';
const DEFAULT_SECRET = 'default-pw-5520';
const dir = mkdtempSync(join(tmpdir(), 'kiln-hcl2-secrets-'));
const home = join(dir, 'home');

const TEMPLATE = `variable "token" {
  type      = string
  sensitive = true
}

variable "password" {
  type      = string
  default   = "${DEFAULT_SECRET}"
  sensitive = true
}

locals {
  header = "Authorization: Bearer \${var.token}"
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = [
      "echo '\${local.header}'",
      "echo \${base64encode(var.token)}",
      "echo pw=\${var.password}",
    ]
  }
}
`;

/** Every form of the two secrets that must not appear. */
function forms(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const s of [SECRET, DEFAULT_SECRET]) {
    out.push(
      [`raw ${s}`, s],
      [`JSON-escaped ${s}`, JSON.stringify(s).slice(1, -1)],
      [`machine-readable escaped ${s}`, s.replace(/,/g, '%!(PACKER_COMMA)')],
      [`base64 ${s}`, Buffer.from(s).toString('base64').replace(/=+$/, '')],
    );
  }
  return out;
}

function found(where: string, text: string | Buffer): string[] {
  const hay = typeof text === 'string' ? Buffer.from(text) : text;
  return forms()
    .filter(([, f]) => hay.includes(Buffer.from(f)))
    .map(([name]) => `${name} in ${where}`);
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sensitive HCL2 variables', () => {
  it('leak into no output, inspect or the catalog', async () => {
    writeFileSync(join(dir, 's.pkr.hcl'), TEMPLATE);
    writeFileSync(join(dir, 'secret.pkrvars.hcl'), `token = ${JSON.stringify(SECRET)}\n`);
    const findings: string[] = [];
    const opts = { home, cwd: dir, env: { NO_COLOR: '1' } };
    const viaFile = ['-var-file', 'secret.pkrvars.hcl', 's.pkr.hcl'];

    const runs = {
      'build -machine-readable (var file)': await kiln(
        ['build', '-machine-readable', ...viaFile],
        opts,
      ),
      'build --output json (var file)': await kiln(['build', '--output', 'json', ...viaFile], opts),
      'build, human (PKR_VAR_)': await kiln(['build', 's.pkr.hcl'], {
        ...opts,
        env: { ...opts.env, PKR_VAR_token: SECRET },
      }),
      validate: await kiln(['validate', ...viaFile], opts),
      inspect: await kiln(['inspect', 's.pkr.hcl'], {
        ...opts,
        env: { ...opts.env, PKR_VAR_token: SECRET },
      }),
    };
    for (const [what, r] of Object.entries(runs)) {
      expect(r.code, `${what}:\n${r.output}`).toBe(0);
      findings.push(...found(`${what} stdout`, r.stdout), ...found(`${what} stderr`, r.stderr));
    }
    // positive controls: the values flowed into the provisioner, and were printed redacted
    const mr = runs['build -machine-readable (var file)'].stdout;
    expect(mr).toContain('null.a: Authorization: Bearer <sensitive>');
    expect(mr).toContain('null.a: <sensitive>');
    expect(mr).toContain('null.a: pw=<sensitive>');
    expect(runs['build, human (PKR_VAR_)'].output).toContain('Authorization: Bearer <sensitive>');
    expect(runs.inspect.stdout).toContain('var.token: "<sensitive>"');
    expect(runs.inspect.stdout).toContain('var.password: "<sensitive>"');

    const catalogFiles = readdirSync(home).filter((f) => f.startsWith('catalog.db'));
    expect(catalogFiles).toContain('catalog.db');
    for (const f of catalogFiles) findings.push(...found(f, readFileSync(join(home, f))));
    findings.push(...found('the catalog tables', JSON.stringify(dumpCatalog(home))));
    expect(existsSync(join(home, 'catalog.db'))).toBe(true);

    console.info(
      `hcl2 secrets: ${forms().length} forms searched in ${Object.keys(runs).length} commands' stdout and stderr, ${catalogFiles.length} catalog file(s) and every catalog table; found: ${findings.length}`,
    );
    expect(findings).toEqual([]);
  });
});
