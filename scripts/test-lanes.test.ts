import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VM_FILES } from '../vitest.config.js';

// npm test runs integration-vm beside the other integration tests (scripts/test-lanes.mjs): a
// file that starts a VM or uses the shared base outside VM_FILES would run beside another VM.
const STARTS_A_VM =
  /\b(ensureBase|ensureHttpImage|homeWithBase|sharedBase|usePrivateHome|makeInstallerSuite|startVm)\(|spawn\(\s*'qemu-system/;

describe('test lanes', () => {
  const root = join(import.meta.dirname, '..');
  const files = readdirSync(join(root, 'test'))
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => `test/${f}`);

  it('every integration file that starts a VM or uses the shared base is in the VM lane', () => {
    const vm = files.filter((f) => STARTS_A_VM.test(readFileSync(join(root, f), 'utf8')));
    expect(vm.length).toBeGreaterThan(10);
    expect(vm.filter((f) => !VM_FILES.includes(f))).toEqual([]);
  });

  it('the VM lane names only files that exist', () => {
    expect(VM_FILES.filter((f) => !files.includes(f))).toEqual([]);
  });
});
