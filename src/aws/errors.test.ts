import { describe, expect, it } from 'vitest';
import { UserError } from '../lib/errors.js';
import { awsCode, explainAwsError, isCredentialError, isTransient } from './errors.js';
import { retryOn } from './retry.js';

/** The shape the SDK v3 gives service errors. */
function sdkError(name: string, status = 400): Error {
  return Object.assign(new Error(`${name} happened`), {
    name,
    $metadata: { httpStatusCode: status },
  });
}

describe('AWS error reading', () => {
  it('classifies codes', () => {
    expect(awsCode(sdkError('InvalidInstanceID.NotFound'))).toBe('InvalidInstanceID.NotFound');
    expect(isCredentialError(sdkError('ExpiredToken'))).toBe(true);
    expect(isTransient(sdkError('RequestLimitExceeded', 503))).toBe(true);
    expect(isTransient(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(
      true,
    );
    expect(isTransient(sdkError('InvalidParameterValue'))).toBe(false);
  });

  it('turns credential errors into one UserError and leaves others alone', () => {
    const e = explainAwsError(sdkError('ExpiredToken'), 'CreateImage');
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).message).toMatch(/during CreateImage: ExpiredToken/);
    const none = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    });
    const n = explainAwsError(none, 'DescribeImages') as UserError;
    expect(n).toBeInstanceOf(UserError);
    expect(n.message).toMatch(
      /^no AWS credentials found \(needed for DescribeImages\): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/,
    );
    const other = sdkError('InvalidParameterValue');
    expect(explainAwsError(other, 'x')).toBe(other);
  });
});

describe('retryOn', () => {
  it('retries the listed codes, then succeeds', async () => {
    let n = 0;
    const seen: number[] = [];
    const v = await retryOn(
      async () => {
        if (++n <= 3) throw sdkError('InvalidAMIID.NotFound');
        return 'ok';
      },
      { codes: ['InvalidAMIID.NotFound'], delayMs: 1, onRetry: (_e, _a, d) => seen.push(d) },
    );
    expect(v).toBe('ok');
    expect(n).toBe(4);
    expect(seen).toEqual([1, 2, 4]);
  });

  it('never retries other codes or credential errors, and gives up after the attempts', async () => {
    let n = 0;
    await expect(
      retryOn(async () => Promise.reject(sdkError('ExpiredToken', n++)), {
        codes: ['ExpiredToken'],
        delayMs: 1,
      }),
    ).rejects.toThrow(/ExpiredToken/);
    expect(n).toBe(1);
    n = 0;
    await expect(
      retryOn(async () => Promise.reject(sdkError('DependencyViolation', n++)), {
        codes: ['DependencyViolation'],
        attempts: 3,
        delayMs: 1,
      }),
    ).rejects.toThrow(/DependencyViolation/);
    expect(n).toBe(3);
  });
});
