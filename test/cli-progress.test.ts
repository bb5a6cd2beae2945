/**
 * Issue 16, item 1: a wait shows what is awaited and for how long. A `null` build waits
 * for an sshd that the test starts only once the wait has been shown, so the wait lasts
 * exactly as long as the test needs, whatever the machine's load:
 * - on a terminal (the CLI under `script`, util-linux's pseudo-terminal), a spinner line
 *   `⠋ null: waiting for SSH on 127.0.0.1:PORT (3s)`, erased before the next line, and the
 *   cursor shown again at the end;
 * - through a pipe, a plain line after a few seconds of silence, with no escape sequence;
 * - in `-machine-readable` and `--output json`, nothing but their records.
 * No VM.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KILN, type Running, run, start } from './helpers/kiln.js';
import { freePort, sshdAvailable, startSshd, type TestSshd } from './helpers/sshd.js';

const dir = mkdtempSync(join(tmpdir(), 'kiln-progress-'));
const home = join(dir, 'home');
const key = join(dir, 'id_ed25519');
let publicKey: string;
const sshds: TestSshd[] = [];

beforeAll(async () => {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'progress-test', '-f', key]);
  publicKey = readFileSync(`${key}.pub`, 'utf8').trim();
});

afterAll(async () => {
  for (const s of sshds) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A null build that connects to 127.0.0.1:port and runs one command there. */
function template(port: number): string {
  const file = join(dir, `t-${port}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      builders: [
        {
          type: 'null',
          ssh_host: '127.0.0.1',
          ssh_port: port,
          ssh_username: 'root',
          ssh_private_key_file: key,
          ssh_timeout: '5m',
        },
      ],
      provisioners: [{ type: 'shell', inline: ['echo provisioned-ok'] }],
    }),
  );
  return file;
}

/** Starts the test's sshd on `port` once `shown` matched the output, then waits for kiln. */
async function serveWhen(running: Running, shown: RegExp, port: number) {
  await running.waitFor(shown, 120_000);
  sshds.push(await startSshd({ port, authorizedKeys: [publicKey] }));
  return running.exit;
}

const env = { KILN_HOME: home, TERM: 'xterm-256color', CI: undefined, NO_COLOR: undefined };

describe.runIf(sshdAvailable())('progress on waits', () => {
  it('on a terminal: a spinner names what is awaited with the elapsed time, and is erased', async () => {
    const port = await freePort();
    const cmd = `${process.execPath} ${KILN} build ${template(port)}`;
    const running = start('script', ['-q', '-e', '-c', cmd, '/dev/null'], { env });
    const r = await serveWhen(
      running,
      /waiting for SSH on 127\.0\.0\.1:\d+ \(([2-9]|\d\d+)s\)/,
      port,
    );
    expect(r.code, r.output).toBe(0);
    const screen = r.output;
    // The spinner's frames (yocto-spinner's dots), the label and a growing elapsed time.
    expect(screen).toMatch(
      /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏](\x1b\[\d+m)? null: waiting for SSH on 127\.0\.0\.1:\d+ \(\d+s\)/,
    );
    // Drawn in place: cursor hidden, lines cleared, and the cursor shown again.
    expect(screen).toContain('\x1b[?25l');
    expect(screen).toMatch(/\x1b\[[012]?K/);
    expect(screen.lastIndexOf('\x1b[?25h')).toBeGreaterThan(screen.lastIndexOf('\x1b[?25l'));
    // The build's own lines are intact.
    expect(screen).toContain('null: provisioned-ok');
    expect(screen).toContain('==> null: Connected to SSH!');
  });

  it('through a pipe: a plain line every few seconds of silence, no escape sequence', async () => {
    const port = await freePort();
    const running = start(process.execPath, [KILN, 'build', template(port)], { env });
    const r = await serveWhen(
      running,
      /^ {4}null: waiting for SSH on 127\.0\.0\.1:\d+ \(\d+s\)$/m,
      port,
    );
    expect(r.code, r.output).toBe(0);
    expect(r.stderr).not.toMatch(/[\x1b\r]/);
    expect(r.stdout).not.toContain('waiting for');
    expect(r.stdout).toMatch(/^--> null:/m);
  });

  it('machine-readable and JSON output carry nothing but their records', async () => {
    for (const flags of [['-machine-readable'], ['--output', 'json']]) {
      const port = await freePort();
      const running = start(process.execPath, [KILN, 'build', ...flags, template(port)], {
        env,
      });
      await running.waitFor(/Waiting for SSH to become available/, 120_000);
      // Long enough for a human heartbeat (5 s of silence) to have been written.
      await new Promise((resolve) => setTimeout(resolve, 7000));
      sshds.push(await startSshd({ port, authorizedKeys: [publicKey] }));
      const r = await running.exit;
      expect(r.code, r.output).toBe(0);
      expect(r.stderr).toBe('');
      const lines = r.stdout.trimEnd().split('\n');
      for (const line of lines) {
        if (flags[0] === '-machine-readable') expect(line).toMatch(/^\d+,[^,]*,[a-z-]+(,|$)/);
        else expect(() => JSON.parse(line), line).not.toThrow();
      }
      expect(r.stdout).not.toMatch(/waiting for SSH on|"wait"|\x1b/);
    }
  });
});
