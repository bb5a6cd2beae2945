import { describe, expect, it } from 'vitest';
import { UserError } from '../lib/errors.js';
import { parsePortSpec } from './port-spec.js';

describe('parsePortSpec', () => {
  it('reads HOST:GUEST, GUEST alone and a loopback address', () => {
    expect(parsePortSpec('8080:80')).toEqual({ host: 8080, guest: 80 });
    expect(parsePortSpec('9999')).toEqual({ host: 0, guest: 9999 });
    expect(parsePortSpec('127.0.0.1:8081:8080')).toEqual({ host: 8081, guest: 8080 });
    expect(parsePortSpec('0:22')).toEqual({ host: 0, guest: 22 });
  });

  it('refuses other addresses, out-of-range ports and garbage with a UserError', () => {
    for (const bad of [
      '0.0.0.0:80:80',
      '70000:80',
      '80:0',
      'abc',
      '8080:',
      ':80',
      '1:2:3:4',
      '-1:80',
    ]) {
      expect(() => parsePortSpec(bad), bad).toThrow(UserError);
    }
    expect(() => parsePortSpec('8080:70000')).toThrow(/guest port "70000"/);
  });
});
