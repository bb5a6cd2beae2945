/**
 * A temporary key pair: generated here (ed25519 unless `temporary_key_pair_type: rsa`) and
 * imported, so AWS never holds the private key. The key lives in a 0700 temp dir that the
 * cleanup removes together with the AWS key pair.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteKeyPairCommand, ImportKeyPairCommand } from '@aws-sdk/client-ec2';
import { generateSshKeyPair } from '../../../communicator/keys.js';
import type { Step } from '../../../core/steps.js';
import { awsCode, explainAwsError, leftoverError } from '../aws-errors.js';
import type { AmazonState } from '../state.js';

export const keyPair: Step<AmazonState> = {
  name: 'key-pair',
  async run(state, { signal, ui }) {
    const { config, ctx } = state;
    const type = config.temporary_key_pair_type ?? 'ed25519';
    const name = `kiln_${ctx.runId}_${randomBytes(3).toString('hex')}`;
    state.keyDir = await mkdtemp(join(tmpdir(), 'kiln-aws-key-'));
    await chmod(state.keyDir, 0o700);
    const pair = await generateSshKeyPair(
      type,
      type === 'rsa' ? { bits: 4096, comment: name } : { comment: name },
    );
    ctx.secrets.add(pair.private);
    const file = join(state.keyDir, `id_${type}`);
    await writeFile(file, pair.private.endsWith('\n') ? pair.private : `${pair.private}\n`, {
      mode: 0o600,
    });
    state.privateKeyFile = file;
    ui.say(`Creating temporary keypair: ${name}`);
    state.keyName = name;
    try {
      await state.ec2().send(
        new ImportKeyPairCommand({
          KeyName: name,
          PublicKeyMaterial: Buffer.from(pair.public.trim()),
          TagSpecifications: [{ ResourceType: 'key-pair', Tags: state.ownTags }],
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      throw explainAwsError(err, 'ImportKeyPair');
    }
    Object.assign(ctx.generated, { SSHPublicKey: pair.public.trim(), SSHPrivateKey: pair.private });
  },
  async cleanup(state, { signal, ui }) {
    if (state.keyName) {
      ui.say('Deleting temporary keypair...');
      try {
        await state
          .ec2()
          .send(new DeleteKeyPairCommand({ KeyName: state.keyName }), { abortSignal: signal });
      } catch (err) {
        if (!/NotFound/.test(awsCode(err) ?? ''))
          throw leftoverError('key pair', state.keyName, err);
      }
    }
    if (state.keyDir) await rm(state.keyDir, { recursive: true, force: true });
  },
};
