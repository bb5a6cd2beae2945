import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where kiln keeps its catalog, images and run journals: $KILN_HOME, else $XDG_DATA_HOME/kiln, else ~/.local/share/kiln. */
export function defaultKilnHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KILN_HOME) return env.KILN_HOME;
  const data = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(data, 'kiln');
}
