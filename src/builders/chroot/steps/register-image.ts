/**
 * Turns the build's overlay into an image: the work dir is renamed to `<images>/<id>/`
 * and registered with its parent (the source image), the build's input hash, the disk's
 * sha256 and the kernel/initrd/cmdline it boots with (its parent's), as the qemu builder
 * registers its images.
 */
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { digestForRegistration } from '../../../catalog/digest.js';
import { journal, unjournal } from '../../../core/journal-step.js';
import type { Step } from '../../../core/steps.js';
import { chrootArtifact } from '../artifact.js';
import type { ChrootState } from '../state.js';

export const registerImage: Step<ChrootState> = {
  name: 'register-image',
  async run(state, { ui, signal }) {
    const src = state.source!;
    const id = state.imageId!;
    const final = join(state.catalog.imagesDir, id);
    journal(state, 'dir', final);
    await rename(state.workDir!, final);
    unjournal(state, state.workDir!);
    state.workDir = final;
    const disk = join(final, 'disk.qcow2');
    // Recorded so that a later build can check the disk before using it as its source.
    const sha256 = await digestForRegistration(state.ctx.kilnHome, disk, signal);
    const image = state.catalog.images.register({
      id,
      name: state.config.vm_name ?? state.ctx.buildName,
      builder: 'kiln-chroot',
      parentId: src.id,
      files: [disk],
      format: 'qcow2',
      sha256,
      ...(state.ctx.inputHash ? { inputHash: state.ctx.inputHash } : {}),
      metadata: {
        ...(src.metadata as Record<string, unknown>),
        backingFile: src.files[0],
        build: state.ctx.buildName,
      },
    });
    state.registered = true;
    unjournal(state, final);
    ui.say(`Image registered: ${image.id} (${image.name}, parent ${src.id})`);
    state.artifact = chrootArtifact({
      imageId: image.id,
      parentId: src.id,
      directory: final,
      files: [disk],
      catalog: state.catalog,
    });
    state.ctx.generated.ID = image.id;
    state.ctx.generated.ImageId = image.id;
  },
};
