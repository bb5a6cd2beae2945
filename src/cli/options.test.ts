import { describe, expect, it } from 'vitest';
import { durationOption, intOption } from './options.js';

describe('option values', () => {
  it('reads durations with Go syntax, as Packer does, and refuses the rest', () => {
    expect(durationOption('--older-than', '2h')).toBe(7_200_000);
    expect(durationOption('--older-than', '1h30m')).toBe(5_400_000);
    expect(durationOption('--poll-interval', '250ms')).toBe(250);
    expect(durationOption('--older-than', '0s', { allowZero: true })).toBe(0);
    for (const bad of ['soon', '', '90', '1d', '0s', '-5m'])
      expect(() => durationOption('--timeout', bad), bad).toThrow(
        `--timeout: "${bad}" is not a duration`,
      );
  });

  it('reads whole numbers', () => {
    expect(intOption('--count', '3')).toBe(3);
    expect(intOption('--count', undefined)).toBeUndefined();
    expect(() => intOption('--count', '2.5')).toThrow('--count: "2.5" is not a whole number');
  });
});
