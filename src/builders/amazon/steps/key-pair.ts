/**
 * The key pair SSH uses. The user's own (`ssh_keypair_name` + `ssh_private_key_file`: used
 * as is, never created or deleted), only a private key (`ssh_private_key_file`: the source
 * AMI already trusts it, no key pair at launch), or by default a temporary one: generated
 * here (ed25519 unless `temporary_key_pair_type: rsa`) and imported, so AWS never holds the
 * private key. That key lives in a 0700 temp dir that the cleanup removes together with
 * the AWS key pair.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteKeyPairCommand, ImportKeyPairCommand } from '@aws-sdk/client-ec2';
import { awsCode, explainAwsError, leftoverError } from '../../../aws/errors.js';
import { generateSshKeyPair } from '../../../communicator/keys.js';
import type { Step } from '../../../core/steps.js';
import type { AmazonState } from '../state.js';
import { journalAws } from './open-lease.js';

export const keyPair: Step<AmazonState> = {
  name: 'key-pair',
  async run(state, { signal, ui }) {
    const { config, ctx } = state;
    if (config.ssh_private_key_file) {
      state.privateKeyFile = config.ssh_private_key_file;
      if (config.ssh_keypair_name) {
        ui.say(`Using existing SSH key pair ${config.ssh_keypair_name}`);
        state.keyName = config.ssh_keypair_name;
      } else {
        ui.say('Using the SSH private key from ssh_private_key_file (no key pair at launch)');
      }
      return;
    }
    const type = config.temporary_key_pair_type ?? 'ed25519';
    const name =
      config.temporary_key_pair_name ?? `kiln_${ctx.runId}_${randomBytes(3).toString('hex')}`;
    state.keyDir = await mkdtemp(join(tmpdir(), 'kiln-aws-key-'));
    await chmod(state.keyDir, 0o700);
    const pair = await generateSshKeyPair(
      type,
      type === 'rsa'
        ? { bits: config.temporary_key_pair_bits || 4096, comment: name }
        : { comment: name },
    );
    ctx.secrets.add(pair.private);
    const file = join(state.keyDir, `id_${type}`);
    await writeFile(file, pair.private.endsWith('\n') ? pair.private : `${pair.private}\n`, {
      mode: 0o600,
    });
    state.privateKeyFile = file;
    ui.say(`Creating temporary keypair: ${name}`);
    state.keyName = name;
    state.createdKeyName = name;
    journalAws(state, 'aws-key-pair', name, { region: config.region, name });
    try {
      const res = await state.ec2().send(
        new ImportKeyPairCommand({
          KeyName: name,
          PublicKeyMaterial: Buffer.from(pair.public.trim()),
          TagSpecifications: [{ ResourceType: 'key-pair', Tags: state.ownTags }],
        }),
        { abortSignal: signal },
      );
      if (res.KeyPairId) state.createdKeyPairId = res.KeyPairId;
    } catch (err) {
      // A pair of that name existed before (a temporary_key_pair_name in use): not ours to delete.
      if (awsCode(err) === 'InvalidKeyPair.Duplicate') delete state.createdKeyName;
      throw explainAwsError(err, 'ImportKeyPair');
    }
    Object.assign(ctx.generated, { SSHPublicKey: pair.public.trim(), SSHPrivateKey: pair.private });
  },
  async cleanup(state, { signal, ui }) {
    // Only the pair kiln imported: a user's own key pair (ssh_keypair_name) is never deleted.
    if (state.createdKeyName) {
      ui.say('Deleting temporary keypair...');
      try {
        await state.ec2().send(new DeleteKeyPairCommand({ KeyName: state.createdKeyName }), {
          abortSignal: signal,
        });
      } catch (err) {
        if (!/NotFound/.test(awsCode(err) ?? ''))
          throw leftoverError('key pair', state.createdKeyName, err);
      }
    }
    if (state.keyDir) await rm(state.keyDir, { recursive: true, force: true });
  },
};
