/**
 * Reading AWS SDK errors: their code, whether waiting helps, and turning credential
 * failures into one clear UserError instead of a retry storm.
 */
import { SystemError, UserError } from '../lib/errors.js';

/** The AWS error code (`InvalidInstanceID.NotFound`, `RequestLimitExceeded`…), or undefined for non-AWS errors. */
export function awsCode(err: unknown): string | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as { name?: unknown; Code?: unknown; code?: unknown; $metadata?: unknown };
  if (typeof e.Code === 'string') return e.Code;
  if (e.$metadata !== undefined && typeof e.name === 'string') return e.name;
  if (typeof e.code === 'string') return e.code;
  return undefined;
}

/** Codes that mean the caller's credentials are wrong or stale: retrying cannot help. */
const CREDENTIAL_CODES = new Set([
  'ExpiredToken',
  'ExpiredTokenException',
  'RequestExpired',
  'AuthFailure',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'InvalidAccessKeyId',
  'CredentialsProviderError',
]);

/** True when the error says the credentials are missing, expired or invalid. */
export function isCredentialError(err: unknown): boolean {
  const code = awsCode(err);
  if (code && CREDENTIAL_CODES.has(code)) return true;
  return err instanceof Error && err.name === 'CredentialsProviderError';
}

/** True when the error is a network failure or throttling (the request may or may not have reached AWS). */
export function isTransient(err: unknown): boolean {
  const code = awsCode(err);
  if (
    code &&
    /Throttl|RequestLimitExceeded|TooManyRequests|ServiceUnavailable|InternalError|Unavailable/.test(
      code,
    )
  )
    return true;
  if (err instanceof Error) {
    const m = `${err.name} ${err.message} ${(err as { code?: string }).code ?? ''}`;
    if (
      /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|socket hang up|TimeoutError|NetworkingError/i.test(m)
    )
      return true;
  }
  const status = (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
  return status !== undefined && status >= 500;
}

/** A one-line description of an AWS error: `Code: message`. Never includes request bodies (which may hold secrets). */
export function describeAwsError(err: unknown): string {
  const code = awsCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  return code && !msg.startsWith(code) ? `${code}: ${msg}` : msg;
}

/** Wraps a credential error as a UserError naming the operation; other errors pass through unchanged. */
export function explainAwsError(err: unknown, operation: string): unknown {
  if (err instanceof Error && err.name === 'CredentialsProviderError') {
    // The what-to-do is in the message: a build's error line shows no hint.
    return new UserError(
      'AwsNoCredentials',
      `no AWS credentials found (needed for ${operation}): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or access_key and secret_key (or profile) in the template`,
      { cause: err },
    );
  }
  if (isCredentialError(err)) {
    return new UserError(
      'AwsCredentials',
      `AWS rejected the credentials during ${operation}: ${describeAwsError(err)}`,
      {
        hint: 'refresh the credentials (aws sso login, new session token) or set access_key/secret_key/token/profile; kiln does not retry this',
        cause: err,
      },
    );
  }
  return err;
}

/** A cleanup that could not remove something: names the kind and exact ID so a person (or `kiln gc aws`) can. */
export function leftoverError(kind: string, id: string, err: unknown): SystemError {
  return new SystemError(
    'AwsLeftover',
    `could not delete ${kind} ${id}: ${describeAwsError(err)}`,
    {
      where: id,
      hint: 'run `kiln gc aws` once the cause is fixed, or delete it by hand',
      cause: err,
    },
  );
}
