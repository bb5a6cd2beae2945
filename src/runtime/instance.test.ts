/**
 * The runtime without booting a guest: validation before side effects, a "QEMU" that
 * dies at start (a script standing in for the binary) leaving nothing, and reconciliation
 * of rows whose process is gone or whose pid belongs to another program.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/index.js';
import { KilnError, SystemError, UserError } from '../lib/errors.js';
import {
  instanceStatus,
  instancesDir,
  listInstanceStatuses,
  startInstance,
  stopInstance,
} from './index.js';

let root: string;
let catalog: Catalog;
let imageId: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kiln-rt-'));
  catalog = Catalog.open(join(root, 'home'));
  const dir = join(catalog.imagesDir, 'img-test');
  mkdirSync(dir, { recursive: true });
  const disk = join(dir, 'disk.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '64M']);
  imageId = catalog.images.register({
    name: 'tiny',
    builder: 'test',
    files: [disk],
    format: 'qcow2',
  }).id;
});

afterEach(() => {
  catalog.close();
  rmSync(root, { recursive: true, force: true });
});

/** A stand-in for qemu-system-x86_64 that prints `message` to stderr and exits with `code`. */
function fakeQemu(message: string, code: number): string {
  const file = join(root, 'fake-qemu');
  writeFileSync(file, `#!/bin/sh\necho '${message}' >&2\nexit ${code}\n`);
  chmodSync(file, 0o755);
  return file;
}

async function thrown(p: Promise<unknown>): Promise<KilnError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (err instanceof KilnError) return err;
  throw new Error(`expected a KilnError, got ${String(err)}`);
}

function nothingLeft(): void {
  expect(catalog.instances.list()).toEqual([]);
  const dir = instancesDir(catalog);
  expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
  expect(catalog.journal.orphaned()).toEqual([]);
}

describe('startInstance', () => {
  it('rejects bad input before any side effect', async () => {
    const qemu = fakeQemu('must not run', 1);
    const cases: Array<[Parameters<typeof startInstance>[0], RegExp]> = [
      [{ catalog, image: 'no-such-image', qemuBinary: qemu }, /no image matches/],
      [
        { catalog, image: imageId, ports: [{ host: 8080, guest: 70000 }], qemuBinary: qemu },
        /guest port 70000/,
      ],
      [
        { catalog, image: imageId, ports: [{ host: -1, guest: 80 }], qemuBinary: qemu },
        /host port -1/,
      ],
      [
        {
          catalog,
          image: imageId,
          ports: [
            { host: 9000, guest: 80 },
            { host: 9000, guest: 81 },
          ],
          qemuBinary: qemu,
        },
        /forwarded twice/,
      ],
      [{ catalog, image: imageId, memoryMb: 10, qemuBinary: qemu }, /memory/],
      [{ catalog, image: imageId, cpus: 0, qemuBinary: qemu }, /cpus/],
      [
        { catalog, image: imageId, name: 'bad name!', qemuBinary: qemu },
        /not a valid instance name/,
      ],
    ];
    const ami = catalog.images.register({
      id: 'ami-0123456789abcdef0',
      name: 'cloud',
      builder: 'amazon-ebs',
      files: [],
      format: 'ami',
    });
    cases.push([{ catalog, image: ami.id, qemuBinary: qemu }, /is an AMI/]);
    for (const [opts, message] of cases) {
      const err = await thrown(startInstance(opts));
      expect(err, String(message)).toBeInstanceOf(UserError);
      expect(err.message).toMatch(message);
    }
    nothingLeft();
  });

  it('refuses a host port that is already taken, naming it', async () => {
    const { createServer } = await import('node:net');
    const srv = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => srv.once('listening', r));
    const port = (srv.address() as { port: number }).port;
    try {
      const err = await thrown(
        startInstance({
          catalog,
          image: imageId,
          ports: [{ host: port, guest: 80 }],
          qemuBinary: fakeQemu('x', 1),
        }),
      );
      expect(err.code).toBe('PortInUse');
      expect(err.message).toContain(String(port));
    } finally {
      srv.close();
    }
    nothingLeft();
  });

  it('fails at once with the exit status and QEMU’s own words when it dies while starting, and leaves nothing', async () => {
    const qemu = fakeQemu(
      'qemu-system-x86_64: -drive file=x: Could not open: Permission denied',
      3,
    );
    const err = await thrown(
      startInstance({ catalog, image: imageId, ports: [{ host: 0, guest: 80 }], qemuBinary: qemu }),
    );
    expect(err).toBeInstanceOf(SystemError);
    expect(err.message).toMatch(/exited while starting \(exit status 3\)/);
    expect(err.details.join('\n')).toMatch(/qemu: .*Could not open: Permission denied/);
    expect(err.details.join('\n')).toMatch(/the console printed nothing/);
    nothingLeft();
  });

  it('says so when the binary is missing', async () => {
    const err = await thrown(
      startInstance({ catalog, image: imageId, qemuBinary: join(root, 'no-qemu-here') }),
    );
    expect(err.code).toBe('ToolMissing');
    nothingLeft();
  });
});

describe('instance status', () => {
  function addRow(pid: number, dirName: string) {
    const dir = join(instancesDir(catalog), dirName);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'console.log'), 'boot\n');
    return catalog.instances.add({
      imageId,
      backend: 'local',
      pid,
      files: [dir],
      metadata: {
        dir,
        serialLog: join(dir, 'console.log'),
        qmpSocket: join(dir, 'qmp.sock'),
        overlay: join(dir, 'disk.qcow2'),
      },
    });
  }

  it('shows a row whose process is gone as exited, and stop clears its files and row', async () => {
    const child = spawn('true');
    await new Promise((r) => child.once('exit', r));
    const rec = addRow(child.pid!, 'i-gone');
    expect(listInstanceStatuses(catalog).map((s) => s.instance.id)).toEqual([]);
    const all = listInstanceStatuses(catalog, { all: true });
    expect(all.map((s) => [s.instance.id, s.state])).toEqual([[rec.id, 'exited']]);
    expect(all[0]!.reason).toMatch(/gone/);
    // Recorded, so the image can be removed without first running `kiln ps`.
    expect(catalog.instances.get(rec.id)!.state).toBe('exited');

    await stopInstance(catalog, rec.id);
    expect(catalog.instances.get(rec.id)).toBeUndefined();
    expect(existsSync(join(instancesDir(catalog), 'i-gone'))).toBe(false);
  });

  it('never takes a reused pid for the instance: another program there means exited, and stop does not touch it', async () => {
    // This test's own process: alive, but its command line does not name the instance's directory.
    const rec = addRow(process.pid, 'i-reused');
    const s = instanceStatus(catalog, rec.id);
    expect(s.state).toBe('exited');
    expect(s.reason).toMatch(/another program/);
    await stopInstance(catalog, rec.id);
    expect(catalog.instances.get(rec.id)).toBeUndefined();
  });

  it('names an unknown instance with a hint', () => {
    expect(() => instanceStatus(catalog, 'i-00000000000000000')).toThrow(/no instance matches/);
  });
});
