/**
 * RELIABILITY row 7 through the compiled CLI: a machine whose sshd rejects the build's key
 * fails with an authentication message long before ssh_timeout — not after it. The
 * machine is a real OpenSSH server (test/helpers/sshd.ts) reached by the null builder.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyDir, type KeyDir } from '../src/communicator/keys.js';
import { kiln, leftovers, whatWasLeft } from './helpers/faults.js';
import { startSshd, type TestSshd } from './helpers/sshd.js';

let dir: string;
let sshd: TestSshd;
let accepted: KeyDir;
let stranger: KeyDir;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-rel-ssh-'));
  accepted = await createKeyDir(undefined, 'run-rel-ssh');
  stranger = await createKeyDir(undefined, 'run-rel-ssh');
  sshd = await startSshd({ authorizedKeys: [accepted.publicKey] });
});

afterAll(async () => {
  await sshd?.stop();
  await accepted?.dispose();
  await stranger?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('ssh authentication', () => {
  it('row 7: a machine that rejects the key fails with an authentication message, not a timeout', async () => {
    const home = join(dir, 'home');
    const file = join(dir, 'template.json');
    writeFileSync(
      file,
      JSON.stringify({
        builders: [
          {
            type: 'null',
            ssh_host: sshd.host,
            ssh_port: sshd.port,
            ssh_username: sshd.user,
            ssh_private_key_file: stranger.privateKeyFile,
            ssh_timeout: '10m',
          },
        ],
        provisioners: [{ type: 'shell', inline: ['echo never'] }],
      }),
    );
    const before = leftovers(home);
    const start = Date.now();
    const r = await kiln(home, ['build', file], { cwd: dir });
    const took = Date.now() - start;
    expect(r.code, r.output).toBe(1);
    expect(r.stderr).toMatch(/authentication|rejected|permission denied/i);
    expect(r.stderr).not.toMatch(/timeout|timed out/i);
    expect(r.output).not.toMatch(/never/);
    // Far below the 10-minute ssh_timeout: the rejection is final, not retried until then.
    expect(took).toBeLessThan(120_000);
    expect(sshd.log()).toMatch(/Failed publickey|Connection closed by authenticating user/);
    expect(whatWasLeft(before, leftovers(home, [r.tmp]))).toEqual([]);
  });
});
