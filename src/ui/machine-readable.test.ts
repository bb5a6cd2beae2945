import { describe, expect, it } from 'vitest';
import { Secrets } from '../core/secrets.js';
import { escapeField, MachineReadableUi, unescapeField } from './machine-readable.js';

function ui(secrets = new Secrets()) {
  const lines: string[] = [];
  const u = new MachineReadableUi({
    write: (c) => lines.push(c),
    secrets,
    now: () => 1795625342_999,
  });
  return { u, lines };
}

describe('MachineReadableUi', () => {
  it('escapes commas, CR and LF as Packer 1.6.6 does', () => {
    expect(escapeField('a,b\nc\rd')).toBe('a%!(PACKER_COMMA)b\\nc\\rd');
    expect(unescapeField(escapeField('x,\ny'))).toBe('x,\ny');
  });

  it('writes ui lines with an empty target, prefixed and trimmed like TargetedUI', () => {
    const { u, lines } = ui();
    u.emit({ type: 'ui', level: 'say', build: 'qemu', text: 'Starting VM, booting disk image' });
    u.emit({ type: 'ui', level: 'message', build: 'qemu', text: 'one\ntwo  ' });
    u.emit({ type: 'ui', level: 'message', build: 'qemu', text: '' });
    u.emit({
      type: 'ui',
      level: 'error',
      text: "\n==> Some builds didn't complete successfully and had errors:",
    });
    expect(lines).toEqual([
      '1795625342,,ui,say,==> qemu: Starting VM%!(PACKER_COMMA) booting disk image\n',
      '1795625342,,ui,message,    qemu: one\\n    qemu: two\n',
      '1795625342,,ui,message,    qemu:\n',
      "1795625342,,ui,error,\\n==> Some builds didn't complete successfully and had errors:\n",
    ]);
  });

  it('writes the artifact block and the --> line after it', () => {
    const { u, lines } = ui();
    u.emit({ type: 'artifact-count', build: 'qemu', count: 1 });
    u.emit({
      type: 'artifact',
      build: 'qemu',
      index: 0,
      artifact: {
        builderId: 'transcend.qemu',
        id: 'VM',
        string: 'VM files in directory: out',
        files: ['out/a.qcow2'],
      },
    });
    expect(lines.join('')).toBe(
      [
        '1795625342,qemu,artifact-count,1',
        '1795625342,qemu,artifact,0,builder-id,transcend.qemu',
        '1795625342,qemu,artifact,0,id,VM',
        '1795625342,qemu,artifact,0,string,VM files in directory: out',
        '1795625342,qemu,artifact,0,files-count,1',
        '1795625342,qemu,artifact,0,file,0,out/a.qcow2',
        '1795625342,qemu,artifact,0,end',
        '1795625342,,ui,say,--> qemu: VM files in directory: out',
        '',
      ].join('\n'),
    );
  });

  it('writes error-count, the build error and its --> line; progress writes nothing', () => {
    const { u, lines } = ui();
    u.emit({ type: 'progress', build: 'b', label: 'copy', current: 1, total: 2 });
    u.emit({ type: 'error-count', count: 1 });
    u.emit({ type: 'build-error', build: 'b', message: 'boom, twice\nagain' });
    expect(lines).toEqual([
      '1795625342,,error-count,1\n',
      '1795625342,b,error,boom%!(PACKER_COMMA) twice\\nagain\n',
      '1795625342,,ui,error,--> b: boom%!(PACKER_COMMA) twice\\nagain\n',
    ]);
  });

  it('redacts a secret raw, with commas and newlines, and in base64', () => {
    const secrets = new Secrets();
    const secret = `pa,ss'"$word\nline-two-of-secret`;
    secrets.add(secret);
    const { u, lines } = ui(secrets);
    u.emit({ type: 'ui', level: 'message', build: 'b', text: `raw ${secret} end` });
    u.emit({
      type: 'ui',
      level: 'message',
      build: 'b',
      text: `b64 ${Buffer.from(secret).toString('base64')}`,
    });
    u.emit({ type: 'ui', level: 'message', build: 'b', text: 'only line-two-of-secret here' });
    u.emit({ type: 'build-error', build: 'b', message: `failed: ${JSON.stringify(secret)}` });
    const out = lines.join('');
    expect(out).not.toContain('pa,ss');
    expect(out).not.toContain('pa%!(PACKER_COMMA)ss');
    expect(out).not.toContain('line-two-of-secret');
    expect(out).not.toContain(Buffer.from(secret).toString('base64'));
    expect(out).toContain('<sensitive>');
  });

  it('prefixes build lines with an RFC 3339 time under -timestamp-ui', () => {
    const lines: string[] = [];
    const u = new MachineReadableUi({
      write: (c) => lines.push(c),
      secrets: new Secrets(),
      timestampUi: true,
    });
    u.emit({ type: 'ui', level: 'say', build: 'b', text: 'hi' });
    expect(lines[0]).toMatch(
      /^\d+,,ui,say,\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d): ==> b: hi\n$/,
    );
  });
});
