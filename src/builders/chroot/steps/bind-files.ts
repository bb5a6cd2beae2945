/**
 * `copy_files` (by default the resolver, /etc/resolv.conf): each host file is bound
 * read-only at the same path in the chroot, so provisioners can use it, and the image
 * never gets a copy. Where the image has no such file, an empty one is made to bind onto
 * and removed afterwards; where the image's is a symlink, it is left alone (said so).
 * Its cleanup unmounts them and removes the files it made.
 */
import { existsSync } from 'node:fs';
import { lstat, rm, writeFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { journal, unjournal } from '../../../core/journal-step.js';
import type { Step } from '../../../core/steps.js';
import { KilnError } from '../../../lib/errors.js';
import { chrootPath } from '../chroot-path.js';
import type { ChrootState } from '../state.js';

export const bindFiles: Step<ChrootState> = {
  name: 'bind-files',
  async run(state, { ui, signal }) {
    for (const [i, file] of state.config.copy_files.entries()) {
      if (!existsSync(file)) {
        ui.message(`copy_files: ${file} does not exist on this host: not bound`);
        continue;
      }
      let target: Awaited<ReturnType<typeof chrootPath>>;
      try {
        target = await chrootPath(state.root!, file, `copy_files[${i}]`);
      } catch (err) {
        if (err instanceof KilnError && err.code === 'ChrootPathSymlink') {
          ui.message(`copy_files: ${err.message}; the image's own is used`);
          continue;
        }
        throw err;
      }
      if (target.isDir) {
        ui.message(`copy_files: ${file} is a directory in the image: not bound`);
        continue;
      }
      const parent = await lstat(posix.dirname(target.path)).catch(() => undefined);
      if (!target.exists && !parent?.isDirectory()) {
        ui.message(`copy_files: ${posix.dirname(file)} does not exist in the image: not bound`);
        continue;
      }
      journal(state, 'mount', target.path);
      const bound = { target: target.path, created: !target.exists };
      state.boundFiles.push(bound);
      if (bound.created) await writeFile(target.path, '', { mode: 0o644 });
      await state.driver.mount(
        { type: 'bind', source: file, target: target.path, options: ['ro'] },
        signal,
      );
    }
  },
  async cleanup(state) {
    while (state.boundFiles.length > 0) {
      const bound = state.boundFiles.at(-1)!;
      await state.driver.unmount(bound.target);
      if (bound.created && !state.driver.isMountPoint(bound.target))
        await rm(bound.target, { force: true });
      unjournal(state, bound.target);
      state.boundFiles.pop();
    }
  },
  owes: (state) =>
    state.boundFiles.length > 0
      ? `unmount ${state.boundFiles
          .map((b) => b.target)
          .reverse()
          .join(', ')}`
      : undefined,
};
