/** The zod field for a Go duration in a config (apart from `duration.ts`: a flag's parser needs no zod). */
import { z } from 'zod';
import { parseGoDurationMs } from './duration.js';

/** A config field holding a Go duration (`30s`, `5m`, `1h30m`), checked by parseGoDurationMs. */
export const goDuration = z.string().refine(
  (s) => {
    try {
      parseGoDurationMs(s);
      return true;
    } catch {
      return false;
    }
  },
  { error: (i) => `invalid duration "${String(i.input)}" (examples: 30s, 5m, 1h30m)` },
);
