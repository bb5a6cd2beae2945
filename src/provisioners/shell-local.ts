/**
 * Packer's `shell-local` provisioner (1.6.6 field names and messages): runs `command`,
 * `inline` lines (as a temporary `#!/bin/sh -e` script), `script` or `scripts` on the
 * machine running kiln, through `execute_command`. Unlike Packer, the environment
 * variables reach the script through its environment, never through its command line:
 * `{{.Vars}}` renders empty, so they are never visible in `ps` or in a log.
 */
import { randomInt } from 'node:crypto';
import { constants, statSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import type {
  PrepareContext,
  PrepareResult,
  ProvisionContext,
  ProvisionerPlugin,
} from '../core/plugin.js';
import { CancelledError, KilnError, UserError } from '../lib/errors.js';
import { run } from '../lib/exec.js';
import { shellLocalInputs } from './inputs.js';

const SUPPORTED_OS = ['darwin', 'freebsd', 'linux', 'openbsd', 'solaris', 'windows'];

export const shellLocalSchema = z
  .strictObject({
    /** One command line, run like a one-line `inline`. */
    command: z.string().optional(),
    /** Lines of a script written to a temporary file and run. */
    inline: z.array(z.string()).optional(),
    /** A local script file to run. */
    script: z.string().optional(),
    /** Local script files to run in order. */
    scripts: z.array(z.string()).optional(),
    /** `KEY=value` pairs given to the scripts' environment. */
    environment_vars: z.array(z.string()).optional(),
    /** Accepted for compatibility; variables always travel in the environment. */
    env_var_format: z.string().optional(),
    /** argv used to run each script; `{{.Script}}` is its absolute path (late-interpolated). */
    execute_command: z.array(z.string()).optional(),
    /** Interpreter line for inline scripts (default `/bin/sh -e`). */
    inline_shebang: z.string().optional(),
    /** Run only on these operating systems (Go's names: linux, darwin, …). */
    only_on: z.array(z.string()).optional(),
    /** Windows Subsystem for Linux paths: scripts only. */
    use_linux_pathing: z.boolean().optional(),
    /** Exit codes that count as success (default `[0]`). */
    valid_exit_codes: z.array(z.number().int()).optional(),
    /** Extension of the temporary inline script. */
    tempfile_extension: z.string().optional(),
  })
  .superRefine((c, issue) => {
    const inline = c.inline ?? [];
    const scripts = c.scripts ?? [];
    if (!c.command && inline.length === 0 && scripts.length === 0 && !c.script) {
      issue.addIssue({
        code: 'custom',
        message: 'Command, Inline, Script and Scripts options cannot all be empty.',
      });
    }
    const tooMany =
      'You may only specify one of the following options: Command, Inline, Script or Scripts. Please consolidate these options in your config.';
    if (c.command && (inline.length > 0 || scripts.length > 0 || c.script)) {
      issue.addIssue({ code: 'custom', message: tooMany, path: ['command'] });
    } else if (c.script && (scripts.length > 0 || inline.length > 0)) {
      issue.addIssue({ code: 'custom', message: tooMany, path: ['script'] });
    } else if (scripts.length > 0 && c.inline !== undefined) {
      issue.addIssue({ code: 'custom', message: tooMany, path: ['scripts'] });
    }
    for (const os of c.only_on ?? []) {
      if (!SUPPORTED_OS.includes(os)) {
        issue.addIssue({
          code: 'custom',
          message: `Invalid OS specified in only_on: '${os}'\nSupported OS names: ${SUPPORTED_OS.join(', ')}`,
          path: ['only_on'],
        });
      }
    }
    if (c.use_linux_pathing && (inline.length > 0 || c.command)) {
      issue.addIssue({
        code: 'custom',
        message:
          'Packer is unable to use the Command and Inline features with the Windows Linux Subsystem. Please use the Script or Scripts options instead',
        path: ['use_linux_pathing'],
      });
    }
    for (const kv of c.environment_vars ?? []) {
      const eq = kv.indexOf('=');
      if (eq <= 0) {
        issue.addIssue({
          code: 'custom',
          message: `Environment variable not in format 'key=value': ${kv}`,
          path: ['environment_vars'],
        });
      }
    }
  });

export type ShellLocalConfig = z.infer<typeof shellLocalSchema>;

/** Packer's exit-code error text, byte for byte (note the missing space after the dot). */
export function invalidExitCodeMessage(code: number, allowed: readonly number[]): string {
  return `Script exited with non-zero exit status: ${code}.Allowed exit codes are: [${allowed.join(' ')}]`;
}

/** The scripts a config runs, local paths as given (Packer's order and precedence). */
function scriptList(c: ShellLocalConfig): string[] {
  if (c.script) return [c.script];
  if (c.scripts && c.scripts.length > 0) return [...c.scripts];
  return [];
}

/** The environment a script gets: Packer's variables, then the user's `environment_vars`. */
export function scriptEnvironment(
  c: ShellLocalConfig,
  ctx: ProvisionContext,
): Record<string, string> {
  const env: Record<string, string> = {
    PACKER_BUILD_NAME: ctx.buildName,
    PACKER_BUILDER_TYPE: ctx.buildType,
  };
  const g = ctx.generated;
  const run = g.PackerRunUUID;
  if (typeof run === 'string' && run) env.PACKER_RUN_UUID = run;
  for (const [key, envKey] of [
    ['PackerHTTPAddr', 'PACKER_HTTP_ADDR'],
    ['PackerHTTPIP', 'PACKER_HTTP_IP'],
    ['PackerHTTPPort', 'PACKER_HTTP_PORT'],
  ] as const) {
    const v = g[key];
    if (typeof v === 'string' && v !== '' && !v.startsWith('ERR_')) env[envKey] = v;
  }
  for (const kv of c.environment_vars ?? []) {
    const eq = kv.indexOf('=');
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return env;
}

/** Go's runtime.GOOS for this platform. */
function goos(): string {
  return process.platform === 'win32'
    ? 'windows'
    : process.platform === 'sunos'
      ? 'solaris'
      : process.platform;
}

async function writeInlineScript(c: ShellLocalConfig): Promise<string> {
  const shebang = c.inline_shebang || '/bin/sh -e';
  const lines = c.command ? [c.command] : (c.inline ?? []);
  const body = `#!${shebang}\n${lines.map((l) => `${l}\n`).join('')}`;
  // Packer's name (`packer-shell` + digits) so that messages look the same; exclusive
  // create and mode 0700 because the lines may hold interpolated secrets.
  for (let tries = 0; ; tries++) {
    const path = join(tmpdir(), `packer-shell${randomInt(1, 2 ** 31)}`);
    try {
      const fh = await open(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o700);
      try {
        await fh.writeFile(body);
      } finally {
        await fh.close();
      }
      if (!c.tempfile_extension) return path;
      const withExt = `${path}.${c.tempfile_extension.replace(/^\./, '')}`;
      await rename(path, withExt);
      return withExt;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 5) throw err;
    }
  }
}

function cleanOutputLine(line: string): string {
  const trimmed = line.replace(/\s+$/u, '');
  const cr = trimmed.lastIndexOf('\r');
  return cr >= 0 ? trimmed.slice(cr + 1) : trimmed;
}

export const shellLocal: ProvisionerPlugin<ShellLocalConfig> = {
  type: 'shell-local',
  schema: shellLocalSchema,
  inputs: shellLocalInputs,
  lateKeys: ['execute_command'],

  async prepare(config: ShellLocalConfig, _ctx: PrepareContext): Promise<PrepareResult> {
    const errors: PrepareResult['errors'] = [];
    for (const [key, path] of [
      ...(config.script ? [['script', config.script] as const] : []),
      ...(config.scripts ?? []).map((s) => ['scripts', s] as const),
    ]) {
      try {
        statSync(path);
      } catch (err) {
        errors.push({ key, message: `Bad script '${path}': ${(err as Error).message}` });
      }
    }
    return { warnings: [], errors };
  },

  async provision(config: ShellLocalConfig, ctx: ProvisionContext): Promise<void> {
    if (config.only_on && config.only_on.length > 0 && !config.only_on.includes(goos())) {
      ctx.ui.say('Skipping shell-local due to runtime OS');
      return;
    }
    const execute = config.execute_command ?? ['/bin/sh', '-c', '{{.Vars}} {{.Script}}'];
    const validCodes =
      config.valid_exit_codes && config.valid_exit_codes.length > 0 ? config.valid_exit_codes : [0];
    const env = scriptEnvironment(config, ctx);
    let temp: string | undefined;
    let scripts = scriptList(config);
    if (scripts.length === 0) {
      temp = await writeInlineScript(config);
      scripts = [temp];
    }
    try {
      for (const script of scripts) {
        const abs = resolve(script);
        const data = { ...ctx.generated, Vars: '', Script: abs, Command: abs };
        const argv = execute.map((part) => ctx.interpolate(part, data));
        if (argv.length === 0 || !argv[0]) {
          throw new UserError(
            'ShellLocalNoCommand',
            'Error launching command via shell-local communicator: No ExecuteCommand provided',
            { where: ctx.label, hint: 'set "execute_command" to a non-empty list' },
          );
        }
        ctx.ui.say(`Running local shell script: ${script}`);
        let exitCode: number;
        try {
          const r = await run(argv[0], argv.slice(1), {
            signal: ctx.signal,
            env,
            reject: false,
            processGroup: true,
            onStdout: (l) => ctx.ui.message(cleanOutputLine(l)),
            onStderr: (l) => ctx.ui.error(cleanOutputLine(l)),
          });
          exitCode = r.signal ? -1 : r.exitCode;
        } catch (err) {
          throw new KilnError(
            err instanceof CancelledError ? 'ScriptCancelled' : 'ScriptFailed',
            `Error executing script: ${abs}\n\nPlease see output above for more information.`,
            {
              cause: err,
              where: ctx.label,
              source: err instanceof KilnError ? err.source : 'system',
            },
          );
        }
        if (!validCodes.includes(exitCode)) {
          throw new KilnError('ScriptExitCode', invalidExitCodeMessage(exitCode, validCodes), {
            where: ctx.label,
            source: 'user',
          });
        }
      }
    } finally {
      if (temp) await rm(temp, { force: true });
    }
  },
};
