/**
 * Packer's `assume_role`: the SDK clients sign with credentials from STS AssumeRole, got
 * with the base credentials (keys, profile or the default chain) and renewed before they
 * expire. AssumeRole failing is a UserError naming the role.
 */
import { AssumeRoleCommand, STSClient, type STSClientConfig } from '@aws-sdk/client-sts';
import { UserError } from '../lib/errors.js';

/** Packer's assume_role block (field names as in the template). */
export interface AssumeRoleConfig {
  role_arn?: string | undefined;
  duration_seconds?: number | undefined;
  external_id?: string | undefined;
  policy?: string | undefined;
  policy_arns?: string[] | undefined;
  session_name?: string | undefined;
  tags?: Record<string, string> | undefined;
  transitive_tag_keys?: string[] | undefined;
}

/** Credentials as the SDK clients take them. */
export interface AwsCredentialIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** Renew this long before the assumed credentials expire. */
const RENEW_BEFORE_MS = 5 * 60_000;

/**
 * A credentials provider that assumes `role`, signing the AssumeRole call with `base`
 * (an STS client config: region, and credentials or profile). Caches until near expiry.
 */
export function assumeRoleProvider(
  role: AssumeRoleConfig,
  base: STSClientConfig,
): () => Promise<AwsCredentialIdentity> {
  let cached: AwsCredentialIdentity | undefined;
  return async () => {
    if (cached?.expiration && cached.expiration.getTime() - Date.now() > RENEW_BEFORE_MS)
      return cached;
    const sts = new STSClient(base);
    try {
      const res = await sts.send(
        new AssumeRoleCommand({
          RoleArn: role.role_arn,
          RoleSessionName: role.session_name || `kiln-${Date.now()}`,
          ...(role.duration_seconds ? { DurationSeconds: role.duration_seconds } : {}),
          ...(role.external_id ? { ExternalId: role.external_id } : {}),
          ...(role.policy ? { Policy: role.policy } : {}),
          ...(role.policy_arns?.length
            ? { PolicyArns: role.policy_arns.map((arn) => ({ arn })) }
            : {}),
          ...(role.tags && Object.keys(role.tags).length > 0
            ? { Tags: Object.entries(role.tags).map(([Key, Value]) => ({ Key, Value })) }
            : {}),
          ...(role.transitive_tag_keys?.length
            ? { TransitiveTagKeys: role.transitive_tag_keys }
            : {}),
        }),
      );
      const c = res.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey)
        throw new Error('AssumeRole answered without credentials');
      cached = {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
        ...(c.Expiration ? { expiration: c.Expiration } : {}),
      };
      return cached;
    } catch (err) {
      throw new UserError(
        'AssumeRoleFailed',
        `could not assume role ${role.role_arn}: ${(err as Error).message}`,
        {
          where: 'assume_role.role_arn',
          hint: "check the role's trust policy allows the base credentials (and external_id)",
          cause: err,
        },
      );
    } finally {
      sts.destroy();
    }
  };
}
