/**
 * The two moments a build saves a warm state (see warm.ts): for its source, right after
 * a boot reached SSH, when the source has none yet; and for the image it makes, after the
 * provisioners and before clean-guest — unless the caller knows nothing will be built from it
 * (`BuildContext.lastInChain`: a pipeline's release). A save that fails is reported and the
 * build goes on: warm states only save time.
 */
import { join } from 'node:path';
import type { BuildUi } from '../../../core/events.js';
import type { Step } from '../../../core/steps.js';
import type { QemuState } from '../state.js';
import { freezeVm } from '../warm.js';

async function freeze(state: QemuState, kind: 'source' | 'own', ui: BuildUi): Promise<void> {
  const n = state.frozen.length + 1;
  const newTop = join(state.workDir!, `top-${n}.qcow2`);
  const stateFile = join(state.workDir!, `${kind}-state.zst`);
  const t0 = Date.now();
  const frozen = { kind, layer: state.disk!, stateFile, saved: false };
  try {
    await freezeVm(state.vm!.qmp, {
      newTop,
      stateFile,
      onNewTop: () => {
        state.frozen.push(frozen);
        state.disk = newTop;
      },
    });
    frozen.saved = true;
  } catch (err) {
    ui.message(`could not save the VM state (${(err as Error).message}): going on without it`);
    return;
  }
  ui.message(
    `VM state saved in ${((Date.now() - t0) / 1000).toFixed(2)} s (${kind === 'source' ? 'for later builds from the source image' : 'for builds from this image'})`,
  );
}

export const saveSourceWarm: Step<QemuState> = {
  name: 'save-source-warm',
  async run(state, { ui }) {
    const src = state.source!;
    // Booted although warm starts are on: the source has no state this build could use
    // (none, another VM's settings, broken): save one, to replace it if the build succeeds.
    if (!state.warmSpec || state.warmFrom || !state.comm || !src.image) return;
    await freeze(state, 'source', ui);
  },
};

export const saveOwnWarm: Step<QemuState> = {
  name: 'save-own-warm',
  async run(state, { ui }) {
    if (!state.warmSpec || !state.comm) return;
    if (state.ctx.lastInChain) {
      ui.message(
        'no saved VM state for builds from this image: nothing will be built from it (a pipeline’s release)',
      );
      return;
    }
    if (state.hasSecrets) {
      ui.message(
        'no saved VM state for builds from this image: sensitive variables may be in the guest’s memory',
      );
      return;
    }
    await freeze(state, 'own', ui);
  },
};
