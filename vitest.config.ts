import { defineConfig } from 'vitest/config';

// Two suites: fast unit tests beside the code, and integration tests that run the real
// thing (QEMU, Ansible, SQLite, Packer, moto) against the compiled CLI in dist/.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['src/**/*.test.ts', 'scripts/**/*.test.ts', 'examples/**/*.test.ts'], exclude: ['**/node_modules/**', '**/dist/**'], testTimeout: 20_000 } },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          testTimeout: 900_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
