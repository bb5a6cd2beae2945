import { describe, expect, it } from 'vitest';
import { UserError } from '../../lib/errors.js';
import { validateDeployOptions } from './deploy.js';

describe('validateDeployOptions', () => {
  it('accepts a normal deploy', () => {
    expect(() =>
      validateDeployOptions({
        asg: 'web',
        imageId: 'ami-0123456789abcdef0',
        minHealthy: 90,
        warmupSeconds: 60,
        checkpoints: [50, 100],
      }),
    ).not.toThrow();
  });

  it('refuses $Latest before any AWS call: rollback needs a numbered version', () => {
    expect(() =>
      validateDeployOptions({ asg: 'web', imageId: 'ami-12345678', sourceVersion: '$Latest' }),
    ).toThrow(/\$Latest moves on its own/);
  });

  it('reports every bad option at once', () => {
    try {
      validateDeployOptions({
        asg: '',
        imageId: 'img-1',
        minHealthy: 120,
        warmupSeconds: -1,
        checkpoints: [50, 40],
      });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).details.join('\n')).toMatch(
        /--asg[\s\S]*IMAGE[\s\S]*--min-healthy[\s\S]*--warmup[\s\S]*--checkpoints/,
      );
    }
  });

  it('wants checkpoints to end at 100', () => {
    expect(() => validateDeployOptions({ asg: 'w', checkpoints: [25, 50] })).toThrow(
      /must end with 100/,
    );
  });
});
