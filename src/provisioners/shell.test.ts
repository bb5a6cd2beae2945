import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { flattenVars, injectExports, isShellScript, shellEnvironment } from './shell.js';

describe('shell provisioner helpers', () => {
  it('sorts variables and renders {{.Vars}} as Packer does', () => {
    const vars = shellEnvironment(
      { environment_vars: ["Z=it's", 'A=1'] },
      { buildName: 'b', buildType: 'qemu', generated: {} },
    );
    expect(vars.map(([k]) => k)).toEqual(['A', 'PACKER_BUILDER_TYPE', 'PACKER_BUILD_NAME', 'Z']);
    expect(flattenVars(vars)).toBe(
      `A='1' PACKER_BUILDER_TYPE='qemu' PACKER_BUILD_NAME='b' Z='it'"'"'s' `,
    );
  });

  it('tells shell scripts from others', () => {
    expect(isShellScript('echo hi\n')).toBe(true);
    expect(isShellScript('#!/bin/bash -eux\n')).toBe(true);
    expect(isShellScript('#!/usr/bin/env bash\n')).toBe(true);
    expect(isShellScript('#!/usr/bin/env python3\n')).toBe(false);
    expect(isShellScript('#!/usr/bin/perl\n')).toBe(false);
  });

  it('exports values after the shebang without tracing them, and restores tracing', () => {
    const secret = `a'b "$c" \`d\`\nline2`;
    const body = (script: string) => script.split('\n').slice(1).join('\n');
    const script = injectExports(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a JS template
      '#!/bin/sh -x\n{ [ "$V" = "$EXPECTED" ] && echo same; } 2>/dev/null\necho "len=${#V}"\n',
      [['V', secret]],
    );
    expect(script.startsWith('#!/bin/sh -x\n')).toBe(true);
    const traced = execFileSync('sh', ['-c', 'sh -x -c "$1" 2>&1', 'sh', body(script)], {
      encoding: 'utf8',
      env: { ...process.env, EXPECTED: secret },
    });
    expect(traced).toContain('same');
    // Tracing is back on for the script's own lines, and never showed the export.
    expect(traced).toContain(`+ echo len=${secret.length}`);
    expect(traced).not.toContain('export');
    expect(traced).not.toContain('line2');
  });
});
