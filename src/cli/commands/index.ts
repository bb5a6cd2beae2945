/** Every subcommand, in the order `kiln --help` lists them. Each file registers one command (or group). */
import type { Command } from 'commander';
import { registerBase } from './base.js';
import { registerBuild } from './build.js';
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
import { registerStop } from './stop.js';
import { registerValidate } from './validate.js';
import { registerVersion } from './version.js';

export type Register = (program: Command) => void;

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
  registerDeploy,
  registerGcAws,
  registerPipeline,
  registerPush,
  registerPull,
  registerDoctor,
];
