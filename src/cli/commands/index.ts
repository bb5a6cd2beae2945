/** Every subcommand, in the order `kiln --help` lists them. Each file registers one command (or group). */
import type { Command } from 'commander';
import { registerBase } from './base.js';
import { registerBuild } from './build.js';
import { registerCompletion } from './completion.js';
import { registerDeploy } from './deploy.js';
import { registerDoctor } from './doctor.js';
import { registerGc } from './gc.js';
import { registerGcAws } from './gc-aws.js';
import { registerHcl2Upgrade } from './hcl2-upgrade.js';
import { registerImages } from './images.js';
import { registerInspect } from './inspect.js';
import { registerLogs } from './logs.js';
import { registerPipeline } from './pipeline.js';
import { registerPs } from './ps.js';
import { registerPull } from './pull.js';
import { registerPush } from './push.js';
import { registerRun } from './run.js';
import { registerSsh } from './ssh.js';
import { registerStop } from './stop.js';
import { registerValidate } from './validate.js';
import { registerVersion } from './version.js';

export type Register = (program: Command) => void;

/** Every command (or group); `images` and `gc` before `base` and `gc aws`, which add to them. */
export const commands: Register[] = [
  registerVersion,
  registerImages,
  registerGc,
  registerValidate,
  registerInspect,
  registerHcl2Upgrade,
  registerBuild,
  registerBase,
  registerRun,
  registerPs,
  registerStop,
  registerLogs,
  registerSsh,
  registerDeploy,
  registerGcAws,
  registerPipeline,
  registerPush,
  registerPull,
  registerDoctor,
  registerCompletion,
];

/** `kiln --help` lists the commands by workflow, in the order a newcomer meets them. */
export const commandGroups: ReadonlyArray<{ heading: string; names: readonly string[] }> = [
  { heading: 'Make images:', names: ['base', 'build', 'validate', 'inspect', 'hcl2_upgrade'] },
  { heading: 'Run instances:', names: ['run', 'ps', 'ssh', 'logs', 'stop'] },
  { heading: 'Ship:', names: ['pipeline', 'deploy', 'push', 'pull'] },
  { heading: 'Maintain:', names: ['images', 'gc', 'doctor', 'completion', 'version'] },
];

/** Registers every command, each under its workflow's heading in `--help`. */
export function registerCommands(program: Command): void {
  for (const register of commands) register(program);
  const rank = new Map(commandGroups.flatMap((g) => g.names).map((name, i) => [name, i]));
  for (const group of commandGroups)
    for (const cmd of program.commands)
      if (group.names.includes(cmd.name())) cmd.helpGroup(group.heading);
  // Commander shows the groups in the order of their first command: sort them by the table.
  const at = (cmd: Command) => rank.get(cmd.name()) ?? rank.size;
  (program.commands as Command[]).sort((a, b) => at(a) - at(b));
}
