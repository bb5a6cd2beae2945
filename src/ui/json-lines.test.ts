import { describe, expect, it } from 'vitest';
import { Secrets } from '../core/secrets.js';
import { JsonLinesUi } from './json-lines.js';

describe('JsonLinesUi', () => {
  it('writes each event losslessly as one JSON line with a millisecond timestamp', () => {
    const lines: string[] = [];
    const u = new JsonLinesUi({
      write: (c) => lines.push(c),
      secrets: new Secrets(),
      now: () => 1234,
    });
    u.emit({ type: 'ui', level: 'say', build: 'b', text: 'a,b\nc' });
    u.emit({
      type: 'artifact',
      build: 'b',
      index: 0,
      artifact: { builderId: 'packer.file', id: 'File', string: 'Stored file: x', files: ['x'] },
    });
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    expect(JSON.parse(lines[0]!)).toEqual({
      type: 'ui',
      timestamp: 1234,
      level: 'say',
      build: 'b',
      text: 'a,b\nc',
    });
    expect(JSON.parse(lines[1]!)).toEqual({
      type: 'artifact',
      timestamp: 1234,
      build: 'b',
      index: 0,
      artifact: { builderId: 'packer.file', id: 'File', string: 'Stored file: x', files: ['x'] },
    });
  });

  it('redacts secrets in every field, base64 included', () => {
    const secrets = new Secrets();
    secrets.add('hunter2-password');
    const lines: string[] = [];
    const u = new JsonLinesUi({ write: (c) => lines.push(c), secrets });
    u.emit({ type: 'build-error', build: 'b', message: 'auth failed for hunter2-password' });
    u.emit({
      type: 'record',
      target: '',
      kind: 'x',
      data: [Buffer.from('hunter2-password').toString('base64')],
    });
    const text = lines.join('');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain(Buffer.from('hunter2-password').toString('base64'));
  });
});
