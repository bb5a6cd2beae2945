/**
 * The CD-ROM of `cd_files`/`cd_content` (labelled `cd_label`), made with xorriso in a
 * temp dir of its own (journalled, so `kiln gc` finds it after a crash) and attached to
 * the VM after the installer ISO. The cleanup removes the dir, whatever part of it exists.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Step } from '../../../core/steps.js';
import { journal, type QemuState, unjournal } from '../state.js';

const cdDirs = new WeakMap<QemuState, string>();

export const createCd: Step<QemuState> = {
  name: 'create-cd',
  async run(state, { ui, signal }) {
    const c = state.config;
    const content = c.cd_content ?? {};
    if ((c.cd_files ?? []).length === 0 && Object.keys(content).length === 0) return;
    const dir = await mkdtemp(join(tmpdir(), 'kiln-cd-'));
    cdDirs.set(state, dir);
    journal(state, 'dir', dir);
    ui.say('Creating CD disk...');
    const out = join(dir, 'cd.iso');
    await state.driver.makeCdIso({
      files: c.cd_files ?? [],
      content,
      ...(c.cd_label ? { label: c.cd_label } : {}),
      out,
      stagingDir: join(dir, 'content'),
      signal,
    });
    state.cdIso = out;
    ui.message(`CD made: ${out}`);
  },
  async cleanup(state) {
    const dir = cdDirs.get(state);
    if (!dir) return;
    await rm(dir, { recursive: true, force: true });
    unjournal(state, dir);
    cdDirs.delete(state);
    state.cdIso = undefined;
  },
  owes(state) {
    const dir = cdDirs.get(state);
    return dir ? `remove the CD image ${dir}` : undefined;
  },
};
