/**
 * Opens the client for the reference's registry and checks, before anything is made, that
 * the registry answers and accepts the credentials in use (a wrong password fails here, not
 * halfway through an upload). Its cleanup closes the client's connections.
 */
import type { Step } from '../../core/steps.js';
import { RegistryClient } from '../../registry/index.js';
import type { RegistryState } from '../state.js';

export const connectRegistry: Step<RegistryState> = {
  name: 'connect-registry',
  async run(state, { signal, ui }) {
    state.client = RegistryClient.for(state.ref, state.clientOptions);
    await state.client.ping(signal);
    ui.message(`${state.ref.registry} answers`);
  },
  async cleanup(state) {
    state.client?.close();
    state.client = undefined;
  },
};
