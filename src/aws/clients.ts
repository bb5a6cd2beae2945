/**
 * AWS SDK v3 clients built from Packer's access settings, for the amazon-ebs builder,
 * `kiln deploy aws` and `kiln gc aws`.
 *
 * Endpoints: the SDK itself honours AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_EC2 /
 * AWS_ENDPOINT_URL_AUTO_SCALING / AWS_ENDPOINT_URL_STS (checked in @smithy/core 3.x
 * `getEndpointUrlConfig`), so nothing here overrides them.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { STSClient } from '@aws-sdk/client-sts';
import {
  type AssumeRoleConfig,
  type AwsCredentialIdentity,
  assumeRoleProvider,
} from './assume-role.js';

/** Packer's access settings; empty values mean the SDK's default credential chain. */
export interface AwsAccess {
  access_key?: string | undefined;
  secret_key?: string | undefined;
  token?: string | undefined;
  profile?: string | undefined;
  /** Packer's `custom_endpoint_ec2`: an EC2 endpoint URL instead of AWS's (EC2 clients only). */
  custom_endpoint_ec2?: string | undefined;
  /** Packer's `max_retries`: retries per API call (the SDK's attempts are this plus one). */
  max_retries?: number | undefined;
  /** Packer's `assume_role`: sign every call with the credentials of this role. */
  assume_role?: AssumeRoleConfig | undefined;
}

/** SDK attempts for EC2: raised from 3 so throttling storms (RequestLimitExceeded) are ridden out. */
export const EC2_MAX_ATTEMPTS = 10;

// The SDK warns on stderr about Node 20 on its own, bypassing kiln's Ui; the warning is about
// future SDK releases, not this one.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

function clientConfig(access: AwsAccess, region: string, maxAttempts: number) {
  const config: {
    region: string;
    maxAttempts: number;
    retryMode: string;
    credentials?:
      | { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
      | (() => Promise<AwsCredentialIdentity>);
    profile?: string;
  } = { region, maxAttempts, retryMode: 'standard' };
  if (access.access_key && access.secret_key) {
    config.credentials = {
      accessKeyId: access.access_key,
      secretAccessKey: access.secret_key,
      ...(access.token ? { sessionToken: access.token } : {}),
    };
  } else if (access.profile) {
    config.profile = access.profile;
  }
  if (access.assume_role?.role_arn) {
    // The base credentials (above) only sign AssumeRole; every call uses the role's.
    const { profile, credentials } = config;
    config.credentials = assumeRoleProvider(access.assume_role, {
      region,
      maxAttempts: 5,
      ...(credentials ? { credentials } : {}),
      ...(profile ? { profile } : {}),
    });
    delete config.profile;
  }
  return config;
}

/** EC2 clients made on first use, one per region; `destroy()` closes every one made. */
export interface Ec2ClientsByRegion {
  get(region: string): EC2Client;
  destroy(): void;
}

export function ec2ClientsByRegion(access: AwsAccess): Ec2ClientsByRegion {
  const clients = new Map<string, EC2Client>();
  return {
    get(region) {
      let c = clients.get(region);
      if (!c) {
        c = ec2Client(access, region);
        clients.set(region, c);
      }
      return c;
    },
    destroy() {
      for (const c of clients.values()) c.destroy();
      clients.clear();
    },
  };
}

/**
 * An EC2 client for `region` with raised retries (or `max_retries` + 1), at
 * `custom_endpoint_ec2` when given. `maxAttempts: 1` gives a client whose caller retries itself.
 */
export function ec2Client(access: AwsAccess, region: string, maxAttempts?: number): EC2Client {
  const attempts =
    maxAttempts ?? (access.max_retries !== undefined ? access.max_retries + 1 : EC2_MAX_ATTEMPTS);
  return new EC2Client({
    ...clientConfig(access, region, attempts),
    ...(access.custom_endpoint_ec2 ? { endpoint: endpointUrl(access.custom_endpoint_ec2) } : {}),
  });
}

/** An endpoint as the SDK wants it: Packer also takes a bare host name, meaning https. */
export function endpointUrl(endpoint: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `https://${endpoint}`;
}

/** An Auto Scaling client for `region` with raised retries. */
export function autoScalingClient(access: AwsAccess, region: string): AutoScalingClient {
  return new AutoScalingClient(clientConfig(access, region, EC2_MAX_ATTEMPTS));
}

/** An STS client (GetCallerIdentity: which account owns what kiln creates). */
export function stsClient(access: AwsAccess, region: string): STSClient {
  return new STSClient(clientConfig(access, region, 5));
}
