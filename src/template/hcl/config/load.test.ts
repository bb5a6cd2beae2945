import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Catalog } from '../../../catalog/index.js';
import { canonicalJson } from '../../../core/input-hash.js';
import { UserError } from '../../../lib/errors.js';
import { registry as realRegistry } from '../../../plugins.js';
import { loadTemplate } from '../../index.js';
import type { Registry } from '../../types.js';
import { hclInspectLines } from './inspect.js';

/** Writes files into a fresh folder and returns its path. */
function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-hcl2-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const registry: Registry = realRegistry;
// No catalog there: read-only, it reads as an empty one and creates nothing.
const catalog = Catalog.openReadOnly('/nonexistent');
const load = (path: string, opts: Partial<Parameters<typeof loadTemplate>[1]> = {}) =>
  loadTemplate(path, { registry, catalog, env: {}, ...opts });

async function errorOf(p: Promise<unknown>): Promise<UserError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  return err as UserError;
}

const NULL_SOURCE = 'source "null" "a" {\n  communicator = "none"\n}\n';

describe('HCL2 templates load into the same builds as JSON templates', () => {
  it('names builds type.name, or build.type.name, in Packer order', async () => {
    const dir = folder({
      'a.pkr.hcl': `${NULL_SOURCE}source "null" "b" {\n  communicator = "none"\n}\n
build {
  name = "rel"
  source "source.null.b" {
    name = "bee"
  }
  sources = ["source.null.a"]
}
build {
  sources = ["source.null.b"]
}
`,
    });
    const t = await load(join(dir, 'a.pkr.hcl'));
    expect(t.builds.map((b) => b.name)).toEqual(['rel.null.a', 'rel.null.bee', 'null.b']);
    expect(t.builds.map((b) => b.pluginBuildName)).toEqual(['a', 'bee', 'b']);
    const only = await load(join(dir, 'a.pkr.hcl'), { only: ['null.b'] });
    expect(only.builds.map((b) => b.name)).toEqual(['null.b']);
  });

  it('applies variable precedence: default < PKR_VAR_ < auto file < -var-file < -var', async () => {
    const dir = folder({
      't/main.pkr.hcl': `variable "a" {\n  default = "default"\n}\nvariable "b" {\n  default = "default"\n}\nvariable "c" {\n  default = "default"\n}\nvariable "d" {\n  default = "default"\n}\nvariable "n" {\n  type = list(number)\n  default = []\n}\n${NULL_SOURCE}
build {
  sources = ["source.null.a"]
  provisioner "shell-local" {
    inline = ["\${var.a} \${var.b} \${var.c} \${var.d} \${jsonencode(var.n)}"]
  }
}
`,
      't/x.auto.pkrvars.hcl': 'b = "auto"\nc = "auto"\nd = "auto"\n',
      'v.pkrvars.hcl': 'c = "file"\nd = "file"\n',
    });
    const t = await load(join(dir, 't'), {
      env: { PKR_VAR_a: 'env', PKR_VAR_b: 'env', PKR_VAR_n: '[1, 2]' },
      varFiles: [join(dir, 'v.pkrvars.hcl')],
      vars: [['d', 'arg']],
    });
    expect(t.builds[0]!.provisioners[0]!.config).toMatchObject({
      inline: ['env auto file arg [1,2]'],
    });
    expect(t.variables).toMatchObject({ a: 'env', b: 'auto', c: 'file', d: 'arg', n: '[1,2]' });
  });

  it('reports every problem at once, each with file:line:column and a caret', async () => {
    const dir = folder({
      'bad.pkr.hcl': `source "null" "a" {
  comunicator = "none"
}
build {
  sources = ["source.null.a"]
  provisioner "shell-local" {
    inline = ["\${var.missing}"]
  }
  provisioner "shel-local" {
  }
}
`,
    });
    const err = await errorOf(load(join(dir, 'bad.pkr.hcl')));
    expect(err.message).toMatch(/has 3 errors/);
    const text = err.details.join('\n');
    expect(text).toContain(
      'bad.pkr.hcl:2:3: Invalid builder configuration: unknown key "comunicator"; did you mean "communicator"?',
    );
    expect(text).toContain('bad.pkr.hcl:7:22: Unsupported attribute');
    expect(text).toContain('did you mean "shell-local"?');
    expect(text).toContain('2 |   comunicator = "none"\n  |   ^^^^^^^^^^^');
  });

  it('decodes nested and dynamic blocks into the lists the schema expects', async () => {
    const dir = folder({
      'aws.pkr.hcl': `locals {
  disks = { "/dev/sdb" = 10, "/dev/sdc" = 20 }
}
source "amazon-ebs" "web" {
  region        = "us-east-1"
  source_ami    = "ami-12345678"
  instance_type = "t3.micro"
  ssh_username  = "admin"
  ami_name      = "web"
  launch_block_device_mappings {
    device_name = "/dev/sda1"
    volume_size = 8
  }
  dynamic "launch_block_device_mappings" {
    for_each = local.disks
    iterator = d
    content {
      device_name = d.key
      volume_size = d.value
    }
  }
}
build {
  sources = ["source.amazon-ebs.web"]
}
`,
    });
    const t = await load(join(dir, 'aws.pkr.hcl'));
    const config = t.builds[0]!.builder.config as { launch_block_device_mappings: unknown[] };
    expect(config.launch_block_device_mappings).toMatchObject([
      { device_name: '/dev/sda1', volume_size: 8 },
      { device_name: '/dev/sdb', volume_size: 10 },
      { device_name: '/dev/sdc', volume_size: 20 },
    ]);
  });

  it('hashes an HCL2 build and the same JSON build alike; timestamp() strings stay out', async () => {
    const dir = folder({
      'b.pkr.hcl': `locals {
  stamp = formatdate("YYYYMMDDhhmmss", timestamp())
}
source "file" "f" {
  target  = "out/\${local.stamp}.txt"
  content = "hello"
}
build {
  sources = ["source.file.f"]
  provisioner "shell-local" {
    inline = ["echo hi"]
  }
}
`,
      'b.json': JSON.stringify({
        builders: [{ type: 'file', name: 'f', target: 'out/x.txt', content: 'hello' }],
        provisioners: [{ type: 'shell-local', inline: ['echo hi'] }],
      }),
    });
    const hcl = await load(join(dir, 'b.pkr.hcl'));
    const json = await load(join(dir, 'b.json'));
    const h = hcl.builds[0]!;
    const j = json.builds[0]!;
    expect(canonicalJson(h.provisioners[0]!.config)).toBe(canonicalJson(j.provisioners[0]!.config));
    expect(canonicalJson(h.provisioners[0]!.asWritten)).toBe(
      canonicalJson(j.provisioners[0]!.asWritten),
    );
    const target = (h.builder.config as { target: string }).target;
    expect(target).toMatch(/^out\/\d{14}\.txt$/);
    const written = (h.builder.asWritten as { target: string }).target;
    expect(hcl.isVolatile(written)).toBe(true);
    expect(hcl.isVolatile((h.builder.asWritten as { content: string }).content)).toBe(false);
    // the written form is the same on every load: the hash does not change between runs
    const again = await load(join(dir, 'b.pkr.hcl'));
    expect((again.builds[0]!.builder.asWritten as { target: string }).target).toBe(written);
  });

  // Packer ≥ 1.8: https://developer.hashicorp.com/packer/docs/templates/hcl_templates/variables#optional-object-type-attributes
  it('fills optional object attributes with their defaults, at any depth and from any source', async () => {
    const dir = folder({
      'o.pkr.hcl': `variable "apps" {
  type = list(object({
    name = string
    port = optional(number, 80)
    tags = optional(map(string), { team = "web" })
    tls  = optional(object({ on = optional(bool, true), cert = optional(string) }), {})
  }))
  default = [{ name = "a" }, { name = "b", port = 8080, tls = { on = false } }]
}
variable "one" {
  type = object({ size = optional(number, 5), label = optional(string) })
}
${NULL_SOURCE}build {
  sources = ["source.null.a"]
  provisioner "shell-local" {
    inline = [jsonencode(var.apps), jsonencode(var.one)]
  }
}
`,
      'one.json': '{"one": {"label": "from-file"}}',
    });
    const t = await load(join(dir, 'o.pkr.hcl'), { varFiles: [join(dir, 'one.json')] });
    const [apps, one] = (t.builds[0]!.provisioners[0]!.config as { inline: string[] }).inline;
    expect(JSON.parse(apps!)).toEqual([
      { name: 'a', port: 80, tags: { team: 'web' }, tls: { on: true, cert: null } },
      { name: 'b', port: 8080, tags: { team: 'web' }, tls: { on: false, cert: null } },
    ]);
    expect(JSON.parse(one!)).toEqual({ size: 5, label: 'from-file' });
    const given = await load(join(dir, 'o.pkr.hcl'), {
      vars: [['one', '{ size = 9 }']],
      varFiles: [],
    });
    const inline = (given.builds[0]!.provisioners[0]!.config as { inline: string[] }).inline;
    expect(JSON.parse(inline[1]!)).toEqual({ size: 9, label: null });
  });

  it('gives build.name and packer.version, and reads a source as type.name too (as Packer 1.6.6)', async () => {
    const dir = folder({
      'b.pkr.hcl': `${NULL_SOURCE}build {
  name    = "web"
  sources = ["null.a"]
  provisioner "shell-local" {
    inline = ["\${build.name} \${packer.version} \${source.name}"]
  }
  post-processor "manifest" {
    name   = build.name
    output = "\${build.name}.json"
  }
}
`,
    });
    const t = await load(join(dir, 'b.pkr.hcl'));
    expect(t.builds.map((b) => b.name)).toEqual(['web.null.a']);
    expect(t.builds[0]!.provisioners[0]!.config).toMatchObject({ inline: ['web 1.6.6 a'] });
    expect(t.builds[0]!.postProcessors[0]![0]!.config).toMatchObject({ output: 'web.json' });
  });

  it('lets validation conditions call functions, and names a cycle of data sources', async () => {
    const dir = folder({
      'v.pkr.hcl': `variable "id" {
  default = "ami-123"
  validation {
    condition     = substr(var.id, 0, 4) == "ami-"
    error_message = "The id must start with ami-."
  }
}
${NULL_SOURCE}build {
  sources = ["source.null.a"]
}
`,
      'c/c.pkr.hcl': `data "null" "a" {
  input = data.null.b.output
}
data "null" "b" {
  input = data.null.a.output
}
${NULL_SOURCE}build {
  sources = ["source.null.a"]
}
`,
    });
    await expect(load(join(dir, 'v.pkr.hcl'), { vars: [['id', 'ami-9']] })).resolves.toBeDefined();
    const bad = await errorOf(load(join(dir, 'v.pkr.hcl'), { vars: [['id', 'img-9']] }));
    expect(bad.details.join('\n')).toContain('The id must start with ami-.');
    const cycle = await errorOf(load(join(dir, 'c')));
    expect(cycle.details.join('\n')).toMatch(
      /c\.pkr\.hcl:\d+:\d+: Cycle in data sources: .*data\.null\.a → data\.null\.b → data\.null\.a/,
    );
  });

  it('expands a dynamic provisioner block in place, its iterator bound in each', async () => {
    const dir = folder({
      'd.pkr.hcl': `variable "words" {\n  default = { en = "hello", fr = "bonjour" }\n}\n${NULL_SOURCE}build {
  sources = ["source.null.a"]
  provisioner "shell-local" {
    inline = ["first"]
  }
  dynamic "provisioner" {
    for_each = var.words
    iterator = w
    labels   = ["shell-local"]
    content {
      inline = ["\${w.key}=\${w.value}"]
      only   = w.key == "fr" ? ["null.a"] : ["null.nope"]
    }
  }
  provisioner "shell-local" {
    inline = ["last"]
  }
}
`,
      'bad.pkr.hcl': `${NULL_SOURCE}build {\n  sources = ["source.null.a"]\n  dynamic "provisioner" {\n    for_each = 3\n    labels   = ["shell-local"]\n    content {\n      inline = ["x"]\n    }\n  }\n}\n`,
    });
    const t = await load(join(dir, 'd.pkr.hcl'));
    expect(t.builds[0]!.provisioners.map((p) => (p.config as { inline: string[] }).inline)).toEqual(
      [['first'], ['fr=bonjour'], ['last']],
    );
    const bad = await errorOf(load(join(dir, 'bad.pkr.hcl')));
    expect(bad.details.join('\n')).toMatch(
      /bad\.pkr\.hcl:7:16: Invalid dynamic for_each value: Cannot use a number value/,
    );
  });

  it('marks sensitive variables and locals as secrets', async () => {
    const dir = folder({
      's.pkr.hcl': `variable "pw" {\n  default = "hunter22"\n  sensitive = true\n}\nlocal "token" {\n  expression = "tok-\${var.pw}"\n  sensitive = true\n}\n${NULL_SOURCE}build {\n  sources = ["source.null.a"]\n}\n`,
    });
    const t = await load(join(dir, 's.pkr.hcl'));
    expect(t.sensitiveVariables).toEqual(['pw']);
    expect(t.sensitiveValues).toEqual(['hunter22', 'tok-hunter22']);
  });

  it('reads null data sources in dependency order and rejects unknown ones clearly', async () => {
    const dir = folder({
      'd.pkr.hcl': `locals {
  base = "v1"
  name = "\${data.null.pick.output}-final"
}
data "null" "pick" {
  input = "img-\${local.base}"
}
${NULL_SOURCE}build {
  sources = ["source.null.a"]
  provisioner "shell-local" {
    inline = [local.name]
  }
}
`,
      'e.pkr.hcl': `data "amazon-amy" "x" {\n}\n${NULL_SOURCE}build {\n  sources = ["source.null.a"]\n}\n`,
    });
    const t = await load(join(dir, 'd.pkr.hcl'));
    expect(t.builds[0]!.provisioners[0]!.config).toMatchObject({ inline: ['img-v1-final'] });
    const err = await errorOf(load(join(dir, 'e.pkr.hcl')));
    expect(err.details.join('\n')).toMatch(
      /e\.pkr\.hcl:1:6: Unknown data source type: kiln has no "amazon-amy" data source/,
    );
  });

  it('checks packer { required_version } against 1.6.6 and names plugins kiln lacks', async () => {
    const dir = folder({
      'ok.pkr.hcl': `packer {\n  required_version = ">= 1.6.0, < 2.0.0"\n  required_plugins {\n    amazon = {\n      version = ">= 1.0.0"\n      source = "github.com/hashicorp/amazon"\n    }\n    docker = {\n      version = ">= 1.0.0"\n      source = "github.com/hashicorp/docker"\n    }\n  }\n}\n${NULL_SOURCE}build {\n  sources = ["source.null.a"]\n}\n`,
      'new.pkr.hcl': `packer {\n  required_version = ">= 1.9.0"\n}\n${NULL_SOURCE}build {\n  sources = ["source.null.a"]\n}\n`,
    });
    const t = await load(join(dir, 'ok.pkr.hcl'));
    expect(t.warnings.join('\n')).toMatch(
      /"amazon".*kiln has its own amazon-ebs, amazon-ami built in/,
    );
    expect(t.warnings.join('\n')).toMatch(/"docker".*no component of this plugin/);
    const err = await errorOf(load(join(dir, 'new.pkr.hcl')));
    expect(err.details.join('\n')).toMatch(/new\.pkr\.hcl:2:22: Unsupported Packer Core version/);
  });

  it('resolves build.* with the values the build generated', async () => {
    const dir = folder({
      'g.pkr.hcl': `${NULL_SOURCE}build {\n  sources = ["source.null.a"]\n  provisioner "shell-local" {\n    inline = ["id=\${build.ID} \${lower(build.ID)}"]\n  }\n}\n`,
    });
    const t = await load(join(dir, 'g.pkr.hcl'));
    const p = t.builds[0]!.provisioners[0]!;
    // while loading, build.* holds Packer's placeholders (lower() applies to them too)
    expect(p.config).toMatchObject({ inline: ['id={{ build `ID` }} {{ build `id` }}'] });
    expect(p.resolve({ ID: 'Null' })).toMatchObject({ inline: ['id=Null null'] });
  });

  it("rejects a schema mismatch in a stub registry with the block's place", async () => {
    const stub: Registry = {
      builders: {
        null: {
          type: 'null',
          builderId: 'x',
          schema: z.strictObject({ communicator: z.string() }),
          run: async () => undefined,
        },
      },
      provisioners: {},
      postProcessors: {},
    };
    const dir = folder({
      'm.pkr.hcl': `source "null" "a" {\n}\nbuild {\n  sources = ["source.null.a"]\n}\n`,
    });
    const err = await errorOf(
      loadTemplate(join(dir, 'm.pkr.hcl'), { registry: stub, catalog, env: {} }),
    );
    expect(err.details[0]).toMatch(
      /m\.pkr\.hcl:1:1: Invalid builder configuration: required: expected a string/,
    );
  });
});

describe('post-processor chains, -only/-except and file kinds, as Packer 1.6.6 reads them', () => {
  const outputs = (t: Awaited<ReturnType<typeof load>>) =>
    t.builds[0]!.postProcessors.map((chain) =>
      chain.map((p) => `${p.type}:${String((p.config as { output?: string }).output ?? '')}`),
    );

  it('expands a dynamic post-processor inside a post-processors chain in place', async () => {
    const dir = folder({
      'c.pkr.hcl': `${NULL_SOURCE}build {
  sources = ["source.null.a"]
  post-processors {
    post-processor "manifest" {
      output = "first.json"
    }
    dynamic "post-processor" {
      for_each = ["a", "b"]
      iterator = o
      labels   = ["manifest"]
      content {
        output = "\${o.key}-\${o.value}.json"
      }
    }
    post-processor "checksum" {
      output = "sums"
    }
  }
}
`,
    });
    expect(outputs(await load(join(dir, 'c.pkr.hcl')))).toEqual([
      ['manifest:first.json', 'manifest:0-a.json', 'manifest:1-b.json', 'checksum:sums'],
    ]);
  });

  it('makes one chain per element of a dynamic "post-processors", its iterator seen inside', async () => {
    const dir = folder({
      'd.pkr.hcl': `${NULL_SOURCE}build {
  sources = ["source.null.a"]
  dynamic "post-processors" {
    for_each = { x = 1, y = 2 }
    content {
      post-processor "manifest" {
        output = "\${post-processors.key}.json"
      }
      dynamic "post-processor" {
        for_each = range(post-processors.value)
        labels   = ["checksum"]
        content {
          output = "\${post-processors.key}-\${post-processor.value}"
        }
      }
    }
  }
}
`,
    });
    expect(outputs(await load(join(dir, 'd.pkr.hcl')))).toEqual([
      ['manifest:x.json', 'checksum:x-0'],
      ['manifest:y.json', 'checksum:y-0', 'checksum:y-1'],
    ]);
    const lines = await hclInspectLines(join(dir, 'd.pkr.hcl'), { registry, env: {} });
    expect(String((lines[2] as { say: string }).say)).toContain(
      '      0:\n        manifest\n        checksum\n\n      1:\n        manifest\n        checksum\n        checksum\n',
    );
  });

  it('reads -only/-except as glob patterns; -except stops a chain at a post-processor of that type', async () => {
    const dir = folder({
      'g.pkr.hcl': `${NULL_SOURCE}source "null" "b" {\n  communicator = "none"\n}\nbuild {
  name    = "one"
  sources = ["source.null.a", "source.null.b"]
  post-processor "checksum" {
    output = "sums"
  }
  post-processors {
    post-processor "manifest" {
      output = "m.json"
    }
    post-processor "checksum" {
      output = "after"
    }
  }
}
`,
    });
    const names = async (opts: { only?: string[]; except?: string[] }) =>
      (await load(join(dir, 'g.pkr.hcl'), opts)).builds.map((b) => b.name);
    expect(await names({ only: ['*.null.?'] })).toEqual(['one.null.a', 'one.null.b']);
    expect(await names({ only: ['one.null.[b-z]'] })).toEqual(['one.null.b']);
    expect(await names({ except: ['*.a'] })).toEqual(['one.null.b']);
    expect(await names({ only: ['{two,one}.null.a'] })).toEqual(['one.null.a']);
    const t = await load(join(dir, 'g.pkr.hcl'), { only: ['one.null.a'], except: ['manifest'] });
    expect(outputs(t)).toEqual([['checksum:sums']]);
    const err = await errorOf(load(join(dir, 'g.pkr.hcl'), { only: ['['] }));
    expect(err.message).toMatch(/invalid -only pattern \[/);
  });

  it('refuses HCL2 in JSON syntax, alone or in a folder, rather than skip it', async () => {
    const dir = folder({
      'a.pkr.hcl': `${NULL_SOURCE}build {\n  sources = ["source.null.a"]\n}\n`,
      'b.pkr.json': '{"build": {"sources": ["source.null.a"]}}',
    });
    for (const path of [dir, join(dir, 'b.pkr.json')]) {
      const err = await errorOf(load(path));
      expect(err.message).toMatch(/does not read HCL2 templates in JSON syntax: .*b\.pkr\.json/);
      expect(err.hint).toMatch(/\.pkr\.hcl/);
    }
  });
});

describe('kiln inspect of an HCL2 template', () => {
  it('prints what packer inspect 1.6.6 prints', async () => {
    const dir = folder({
      'i.pkr.hcl': `variable "pw" {\n  default = "x"\n  sensitive = true\n}\nvariable "req" {\n  type = string\n}\nlocals {\n  l = [1, { a = "b" }]\n}\n${NULL_SOURCE}build {\n  name = "n"\n  sources = ["source.null.a"]\n  provisioner "shell-local" {\n    inline = ["x"]\n  }\n  post-processor "manifest" {\n    name = "m"\n  }\n}\n`,
    });
    const lines = await hclInspectLines(join(dir, 'i.pkr.hcl'), { registry, env: {} });
    expect(lines.map((l) => ('say' in l ? l.say : '')).join('\n')).toBe(
      [
        'Packer Inspect: HCL2 mode\n',
        '> input-variables:\n\nvar.pw: "<sensitive>"\nvar.req: "<unknown>"\n\n> local-variables:\n\nlocal.l: "[\\n  1,\\n  {\\n    \\"a\\" = \\"b\\"\\n  },\\n]"\n',
        '> builds:\n\n  > n:\n\n    sources:\n\n      null.a\n\n    provisioners:\n\n      shell-local\n\n    post-processors:\n\n      0:\n        manifest.m\n',
      ].join('\n'),
    );
  });
});
