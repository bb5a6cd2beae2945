import { defineConfig } from 'vitest/config';

// Three projects: fast unit tests beside the code, and two lanes of integration tests that run
// the real thing (QEMU, Ansible, SQLite, Packer, moto) against the compiled CLI in dist/.
//
// integration-vm holds every file that starts a QEMU guest or the chroot builder's storage
// daemon, makes or reads the shared debian-12 base (KILN_TEST_HOME), or looks for Ansible
// control masters host-wide: such files saturate a small machine together, so they run one at
// a time. integration holds the rest (moto, registries, Packer diffs, fuzzing, CLI checks).
// `npm test` runs the two lanes side by side, each one file at a time (scripts/test-lanes.mjs);
// `vitest run` alone runs everything one file at a time (fileParallelism: false below).
export const VM_FILES = [
  'test/base-debian.test.ts',
  'test/chroot-build.test.ts',
  'test/ci-workflows.test.ts',
  'test/hcl2-sample-qemu.test.ts',
  'test/newcomer.test.ts',
  'test/pipeline-sample.test.ts',
  'test/provisioners-ansible.test.ts',
  'test/qemu-boot-command.test.ts',
  'test/qemu-build.test.ts',
  'test/qemu-driver.test.ts',
  'test/qemu-http-server.test.ts',
  'test/qemu-installer.test.ts',
  'test/qemu-installer-interrupts.test.ts',
  'test/qemu-warm.test.ts',
  'test/registry-push-pull.test.ts',
  'test/reliability-disk.test.ts',
  'test/reliability-input.test.ts',
  'test/reliability-qemu.test.ts',
  'test/runtime-deploy.test.ts',
  'test/runtime-run.test.ts',
  'test/runtime-ssh.test.ts',
  'test/secrets-qemu.test.ts',
];

const integration = { testTimeout: 900_000, hookTimeout: 900_000 };

export default defineConfig({
  test: {
    // Worker count is the root's in vitest 3 (a project's own fileParallelism does not limit the
    // shared pool): one file at a time in each vitest process.
    fileParallelism: false,
    projects: [
      { test: { name: 'unit', include: ['src/**/*.test.ts', 'scripts/**/*.test.ts', 'examples/**/*.test.ts'], exclude: ['**/node_modules/**', '**/dist/**'], testTimeout: 20_000 } },
      { test: { name: 'integration', include: ['test/**/*.test.ts'], exclude: VM_FILES, ...integration } },
      { test: { name: 'integration-vm', include: VM_FILES, ...integration } },
    ],
  },
});
