/** The pipeline's defaults, apart from the pipeline itself: the CLI's help shows them without loading it. */
import { availableParallelism, totalmem } from 'node:os';

/** The default pipeline file name, looked for in the current directory. */
export const PIPELINE_FILE = 'kiln.pipeline.json';

/** Memory one release VM needs, with QEMU's own overhead (the sample's templates ask 1 GiB). */
const VM_BYTES = 1.25 * 1024 ** 3;

/** How many VMs this machine runs at once: one per core, as many as fit in 3/4 of its memory. */
export function defaultParallelism(): number {
  const byMemory = Math.floor((totalmem() * 0.75) / VM_BYTES);
  return Math.max(1, Math.min(availableParallelism(), byMemory));
}
