/**
 * Turns the work directory into an image: renamed to `<images>/<id>/`, its disk digested,
 * and registered in one catalog transaction. From then on the catalog owns the files and
 * create-work-dir's cleanup keeps them; a failure before that leaves them to it.
 */
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { digestForRegistration } from '../../catalog/digest.js';
import type { Step } from '../../core/steps.js';
import type { ImageWorkState } from '../state.js';

export const registerImage: Step<ImageWorkState> = {
  name: 'register-image',
  async run(state, { signal }) {
    await rename(state.work, state.final);
    const files = state.files.map((f) => join(state.final, f));
    const sha256 = await digestForRegistration(state.catalog.home, files[0]!, signal);
    state.image = state.catalog.images.register({
      id: state.imageId,
      sha256,
      files,
      ...state.record(files),
    });
    state.registered = true;
  },
};
