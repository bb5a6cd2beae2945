import { describe, expect, it } from 'vitest';
import { brokenInstallCause } from './broken-install.js';

describe('brokenInstallCause', () => {
  it('tells a module that does not load from any other error', () => {
    const bindings = new Error('Could not locate the bindings file. Tried:\n → /x/build/a.node');
    expect(brokenInstallCause(bindings)).toBe('Could not locate the bindings file.');
    const missing = Object.assign(new Error("Cannot find package 'commander'\nRequire stack:"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    expect(brokenInstallCause(missing)).toBe("Cannot find package 'commander'");
    expect(brokenInstallCause(new TypeError('x is not a function'))).toBeUndefined();
    expect(brokenInstallCause('a string')).toBeUndefined();
  });
});
