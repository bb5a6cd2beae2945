import { describe, expect, it } from 'vitest';
import { chooseAccelerator, decideAccelerator } from './accel.js';

describe('decideAccelerator', () => {
  it('never picks KVM under kvm_pvm, where guests hang', () => {
    expect(decideAccelerator({ kvmDevice: true, kvmPvm: true }).accel).toBe('tcg');
  });
  it('falls back to TCG when -cpu host fails or /dev/kvm is unusable', () => {
    expect(decideAccelerator({ kvmDevice: true, kvmPvm: false, cpuHostWorks: false }).accel).toBe(
      'tcg',
    );
    expect(decideAccelerator({ kvmDevice: false, kvmPvm: false }).accel).toBe('tcg');
  });
  it('uses KVM where it works', () => {
    expect(decideAccelerator({ kvmDevice: true, kvmPvm: false, cpuHostWorks: true }).accel).toBe(
      'kvm',
    );
  });
  it('keeps an explicit setting and maps none to TCG', async () => {
    expect((await chooseAccelerator('tcg')).accel).toBe('tcg');
    expect((await chooseAccelerator('none')).accel).toBe('tcg');
  });
});
