import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lastLines } from './console.js';
import { describeExit, freePort } from './launch.js';

const dir = mkdtempSync(join(tmpdir(), 'kiln-driver-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('driver helpers', () => {
  it('returns the console tail without colours or blank lines', async () => {
    const f = join(dir, 'console.log');
    writeFileSync(f, 'one\n\x1b[0;32m  OK  \x1b[0m] Started ssh.service\r\n\n\nthree\n');
    expect(await lastLines(f, 2)).toEqual(['  OK  ] Started ssh.service', 'three']);
    expect(await lastLines(join(dir, 'missing.log'), 5)).toEqual([]);
  });

  it('describes how QEMU ended', () => {
    expect(describeExit({ code: null, signal: 'SIGKILL', stderr: '' })).toBe('killed by SIGKILL');
    expect(describeExit({ code: 1, signal: null, stderr: '' })).toBe('exit status 1');
  });

  it('finds a free loopback port', async () => {
    const p = await freePort();
    expect(p).toBeGreaterThan(1023);
    expect(p).toBeLessThan(65536);
  });
});
