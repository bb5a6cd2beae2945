import { describe, expect, it } from 'vitest';
import { cpusOption, durationOption, intOption, memoryOption } from './options.js';

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

  it("refuses more vCPUs than the host has, and the host's memory or more", () => {
    expect(cpusOption('2', 2)).toBe(2);
    expect(cpusOption(undefined, 2)).toBeUndefined();
    expect(() => cpusOption('64', 2)).toThrow('--cpus 64: this host has only 2 CPUs');
    expect(() => cpusOption('0', 2)).toThrow('--cpus must be at least 1');
    const host = 8 * 1024 ** 3;
    expect(memoryOption('1024', host)).toBe(1024);
    expect(() => memoryOption('8192', host)).toThrow('--memory 8192: this host has only 8192 MB');
    expect(() => memoryOption('64', host)).toThrow('a guest needs at least 128 MB');
  });
});
