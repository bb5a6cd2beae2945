import { describe, expect, it } from 'vitest';
import { formatTable, humanSize, shortAge, timeAgo } from './format.js';

describe('formatTable', () => {
  it('pads every column but the last to its widest cell and trims the line end', () => {
    expect(
      formatTable([
        ['ID', 'NAME', 'UP'],
        ['i-1', '', '5s'],
        ['i-22', 'web', ''],
      ]),
    ).toBe('ID    NAME  UP\ni-1         5s\ni-22  web\n');
    expect(
      formatTable(
        [
          ['A', 'B'],
          ['aaa', 'b'],
        ],
        3,
      ),
    ).toBe('A     B\naaa   b\n');
  });
});

describe('sizes and ages', () => {
  it('prints sizes as docker does', () => {
    expect(humanSize(999)).toBe('999B');
    expect(humanSize(1234)).toBe('1.23kB');
    expect(humanSize(460_123_456)).toBe('460MB');
  });

  it('prints ages as docker does, and short uptimes', () => {
    const now = new Date('2026-01-01T12:00:00Z');
    const ago = (s: number) => new Date(now.getTime() - s * 1000);
    expect(timeAgo(ago(1), now)).toBe('just now');
    expect(timeAgo(ago(300), now)).toBe('5 minutes ago');
    expect(timeAgo(ago(3600), now)).toBe('1 hour ago');
    expect(timeAgo(ago(86_400 * 400), now)).toBe('1 year ago');
    expect(shortAge(ago(45), now)).toBe('45s');
    expect(shortAge(ago(720), now)).toBe('12m');
    expect(shortAge(ago(3 * 3600), now)).toBe('3h');
  });
});
