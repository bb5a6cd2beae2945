/**
 * Turns the build's disk into an image: the work dir is renamed to `<images>/<id>/`,
 * registered with its parent (the source image; none for an installer ISO, whose URL and
 * checksum are recorded instead) and the kernel/initrd/cmdline it boots
 * with, and made read-only. With `output_directory`, the disk is also copied there, as
 * Packer does (an existing directory is refused unless -force).
 */

import { existsSync } from 'node:fs';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { digestForRegistration } from '../../../catalog/digest.js';
import type { Step } from '../../../core/steps.js';
import { crashPoint } from '../../../core/test-hooks.js';
import { UserError } from '../../../lib/errors.js';
import { qemuArtifact } from '../artifact.js';
import { journal, type QemuState, unjournal } from '../state.js';

/** Packer's default file name for the disk: `packer-<build>.<format>` unless vm_name says otherwise. */
export function outputFileName(
  vmName: string | undefined,
  buildName: string,
  format: string,
): string {
  return vmName ?? `packer-${buildName}.${format}`;
}

export const registerImage: Step<QemuState> = {
  name: 'register-image',
  async run(state, { ui, signal }) {
    const c = state.config;
    const src = state.source!;
    const id = state.imageId!;
    const final = join(state.catalog.imagesDir, id);
    journal(state, 'dir', final);
    await rename(state.workDir!, final);
    unjournal(state, state.workDir!);
    state.workDir = final;
    const disk = join(final, basename(state.disk!));
    const files = [disk];
    let kernel = src.kernel;
    let initrd = src.initrd;
    // A flattened image must not depend on its source's files: copy the kernel and initrd.
    if (!c.use_backing_file) {
      if (kernel) {
        await copyFile(kernel, join(final, 'vmlinuz'));
        kernel = join(final, 'vmlinuz');
        files.push(kernel);
      }
      if (initrd) {
        await copyFile(initrd, join(final, 'initrd.img'));
        initrd = join(final, 'initrd.img');
        files.push(initrd);
      }
    }
    const parentMeta = (src.image?.metadata ?? {}) as Record<string, unknown>;
    // Recorded so that a later build can check the disk before using it as its source.
    const sha256 = await digestForRegistration(state.ctx.kilnHome, disk, signal);
    crashPoint('after-image-write');
    const image = state.catalog.images.register({
      id,
      name: c.vm_name ?? state.ctx.buildName,
      builder: 'qemu',
      parentId: src.image?.id,
      files,
      format: c.format,
      sha256,
      ...(state.ctx.inputHash ? { inputHash: state.ctx.inputHash } : {}),
      ...(state.ctx.recipe ?? {}),
      metadata: {
        ...parentMeta,
        kernel,
        initrd,
        cmdline: src.cmdline,
        kilnCredentials: src.kilnCredentials,
        sourceFile: src.image || src.iso ? undefined : src.file,
        ...(src.iso ? { sourceIso: src.iso.url, isoChecksum: src.iso.checksum } : {}),
        backingFile: c.use_backing_file && !src.iso ? src.file : undefined,
        build: state.ctx.buildName,
        // What the template named its source by (a tag moved later must not go unnoticed).
        sourceRef: c.source_image,
        // The VM size it was built with: `kiln run` gives its instances the same.
        cpus: c.cpus,
        memoryMb: c.memory,
      },
    });
    state.registered = true;
    unjournal(state, final);
    ui.say(
      `Image registered: ${image.id} (${image.name}${src.image ? `, parent ${src.image.id}` : ''})`,
    );

    let directory = final;
    let artifactFiles = files;
    let outputDirectory: string | undefined;
    if (c.output_directory) {
      outputDirectory = resolve(c.output_directory);
      if (existsSync(outputDirectory)) {
        if (!state.ctx.force) {
          throw new UserError(
            'OutputExists',
            `output directory ${outputDirectory} already exists`,
            {
              where: 'output_directory',
              hint: 'remove it, or build with -force',
            },
          );
        }
        await rm(outputDirectory, { recursive: true, force: true });
      }
      await mkdir(outputDirectory, { recursive: true });
      const out = join(outputDirectory, outputFileName(c.vm_name, state.ctx.buildName, c.format));
      await copyFile(disk, out);
      directory = outputDirectory;
      artifactFiles = [out];
    }
    state.artifact = qemuArtifact({
      imageId: image.id,
      parentId: src.image?.id,
      directory,
      files: artifactFiles,
      catalog: state.catalog,
      outputDirectory,
    });
    state.ctx.generated.ID = image.id;
    state.ctx.generated.ImageId = image.id;
  },
};
