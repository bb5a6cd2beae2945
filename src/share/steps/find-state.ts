/**
 * With `--with-state` only: finds the saved VM state pushed for the image manifest (its
 * referrer of the kiln state type) and checks, before anything is downloaded, that there is
 * one and that this kiln can install it (the image's builder carries states). Makes nothing.
 */
import type { Step } from '../../core/steps.js';
import { UserError } from '../../lib/errors.js';
import { formatReference, KilnMedia, readStateArtifact } from '../../registry/index.js';
import type { PullState } from '../state.js';

export const findState: Step<PullState> = {
  name: 'find-state',
  async run(state, { signal, ui }) {
    if (!state.withState) return;
    const client = state.client!;
    const repo = state.ref.repository;
    const top = state.chain.at(-1)!;
    const transfer = state.stateTransfer?.(top.record.builder);
    if (!transfer)
      throw new UserError(
        'NoSavedState',
        `${top.link.id} was made by the ${top.record.builder} builder, whose images carry no saved VM state`,
        { hint: 'pull without --with-state' },
      );
    const refs = await client.referrers(repo, state.manifestDigest!, KilnMedia.vmState, signal);
    if (refs.length === 0)
      throw new UserError(
        'NoSavedState',
        `${formatReference(state.ref)} has no saved VM state in ${state.ref.registry}/${repo}`,
        { hint: 'push it with `kiln push --with-state`, or pull without --with-state' },
      );
    // The latest one pushed, when there are several.
    const newest = [...refs].sort((a, b) =>
      (a.annotations?.['org.opencontainers.image.created'] ?? '').localeCompare(
        b.annotations?.['org.opencontainers.image.created'] ?? '',
      ),
    )[refs.length - 1]!;
    const m = await client.getManifest(repo, newest.digest, signal);
    if (!m.manifest)
      throw new UserError('NotKilnState', `the VM state ${newest.digest} is not an image manifest`);
    const artifact = readStateArtifact(m.manifest);
    if (artifact.imageId !== top.link.id)
      throw new UserError(
        'NotKilnState',
        `the VM state ${newest.digest} is for ${artifact.imageId}, not ${top.link.id}`,
      );
    state.savedState = { digest: newest.digest, files: artifact.files, transfer };
    ui.message(
      `saved VM state ${newest.digest}: ${artifact.files.length} files, ${(artifact.files.reduce((n, f) => n + f.blob.size, 0) / 1e6).toFixed(1)} MB`,
    );
  },
};
