#!/usr/bin/env node
// Loaded dynamically so that a missing package (node_modules being rebuilt, no `npm run
// build` yet) is reported as the install problem it is, not as a stack trace.
try {
  await import('../dist/cli/main.js');
} catch (err) {
  const code = err && typeof err === 'object' ? err.code : undefined;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw err;
  const root = new URL('..', import.meta.url).pathname;
  const missing = String(err.message).split('\n')[0];
  const dist = missing.includes('/dist/');
  process.stderr.write(
    `kiln: kiln’s installation is incomplete (not a bug in kiln): ${missing}\n` +
      `hint: ${dist ? 'run `npm run build`' : 'run `npm ci` (or wait for a running one to finish)'} in ${root}, then \`kiln doctor\`\n`,
  );
  process.exitCode = 1;
}
