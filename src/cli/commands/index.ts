/** Every subcommand, in the order `kiln --help` lists them. Each file registers one command (or group). */
import type { Command } from 'commander';
import { registerVersion } from './version.js';

export type Register = (program: Command) => void;

export const commands: Register[] = [registerVersion];
