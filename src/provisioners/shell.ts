/**
 * Packer's `shell` provisioner (1.6.6 fields, defaults and messages): uploads each
 * script (or the `inline` lines as one script) to the machine, runs it through
 * `execute_command`, streams its lines, and checks its exit status.
 *
 * Unlike Packer, environment values never travel on a command line: for shell scripts
 * (inline, or a script whose interpreter is a POSIX shell) they are exported at the top of
 * the uploaded copy (with tracing off around them) and `{{.Vars}}` renders empty; with
 * `use_env_var_file` they go into an uploaded file. Only a script for another interpreter
 * gets Packer's `{{.Vars}}` string. Uploaded copies are 0700 and removed afterwards.
 */

import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { z } from 'zod';
import type { Communicator } from '../communicator/communicator.js';
import { DISCONNECTED_EXIT_CODE } from '../communicator/ssh-communicator.js';
import type {
  PrepareContext,
  PrepareResult,
  ProvisionContext,
  ProvisionerPlugin,
} from '../core/plugin.js';
import { parseGoDurationMs } from '../lib/duration.js';
import { CancelledError, KilnError, throwIfAborted, UserError } from '../lib/errors.js';
import { sleep } from '../lib/sleep.js';
import { shellInputs } from './inputs.js';
import { randomSuffix, requireComm, splitKeyValue } from './remote.js';
import { invalidExitCodeMessage } from './shell-local.js';

export const shellSchema = z
  .strictObject({
    /** Lines run as one script (with `inline_shebang`). */
    inline: z.array(z.string()).optional(),
    /** Interpreter line for inline scripts (default `/bin/sh -e`). */
    inline_shebang: z.string().optional(),
    /** A local script to upload and run. */
    script: z.string().optional(),
    /** Local scripts to upload and run in order. */
    scripts: z.array(z.string()).optional(),
    /** `KEY=value` pairs the scripts see in their environment. */
    environment_vars: z.array(z.string()).optional(),
    /** How one variable renders into `{{.Vars}}` (default `%s='%s' `). */
    env_var_format: z.string().optional(),
    /** Put the variables in an uploaded file, `{{.EnvVarFile}}`. */
    use_env_var_file: z.boolean().optional(),
    /** How each script runs; `{{.Path}}`, `{{.Vars}}`, `{{.EnvVarFile}}` (late-interpolated). */
    execute_command: z.string().optional(),
    /** Remote directory for the uploaded script (default `/tmp`). */
    remote_folder: z.string().optional(),
    /** Remote file name (default `script_NNNN.sh`). */
    remote_file: z.string().optional(),
    /** Full remote path; overrides the two above. */
    remote_path: z.string().optional(),
    /** The script may drop the connection (e.g. reboot) without failing. */
    expect_disconnect: z.boolean().optional(),
    /** Exit statuses that count as success (default `[0]`). */
    valid_exit_codes: z.array(z.number().int()).optional(),
    /** Leave the uploaded script on the machine. */
    skip_clean: z.boolean().optional(),
    /** How long to keep retrying the upload while the machine is unreachable (default `5m`). */
    start_retry_timeout: z.string().optional(),
    /** Wait after the last script (a Go duration). */
    pause_after: z.string().optional(),
    /** Accepted for compatibility (binary upload mode on Windows). */
    binary: z.boolean().optional(),
  })
  .superRefine((c, issue) => {
    const n = (c.inline ? 1 : 0) + (c.script ? 1 : 0) + (c.scripts && c.scripts.length > 0 ? 1 : 0);
    if (n > 1)
      issue.addIssue({
        code: 'custom',
        message: 'Only one of inline, script, or scripts can be specified.',
      });
    if (n === 0)
      issue.addIssue({
        code: 'custom',
        message: 'Either a script file or inline script must be specified.',
      });
    for (const kv of c.environment_vars ?? []) {
      if (!splitKeyValue(kv)) {
        issue.addIssue({
          code: 'custom',
          message: `Environment variable not in format 'key=value': ${kv}`,
          path: ['environment_vars'],
        });
      }
    }
  });

export type ShellConfig = z.infer<typeof shellSchema>;

const DEFAULT_EXECUTE = 'chmod +x {{.Path}}; {{.Vars}} {{.Path}}';
const DEFAULT_EXECUTE_ENV_FILE = 'chmod +x {{.Path}}; . {{.EnvVarFile}} && {{.Path}}';
const SHELLS = new Set(['sh', 'bash', 'dash', 'ash', 'ksh', 'mksh', 'zsh', 'busybox']);

/** The variables a script sees, sorted by name as Packer sorts them. */
export function shellEnvironment(
  c: ShellConfig,
  ctx: Pick<ProvisionContext, 'buildName' | 'buildType' | 'generated'>,
): Array<[string, string]> {
  const env = new Map<string, string>([
    ['PACKER_BUILD_NAME', ctx.buildName],
    ['PACKER_BUILDER_TYPE', ctx.buildType],
  ]);
  const http = ctx.generated.PackerHTTPAddr;
  if (typeof http === 'string' && http !== '' && !http.startsWith('ERR_'))
    env.set('PACKER_HTTP_ADDR', http);
  for (const kv of c.environment_vars ?? []) {
    const pair = splitKeyValue(kv);
    if (pair) env.set(pair[0], pair[1]);
  }
  return [...env.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Packer's `{{.Vars}}` string: each pair through `env_var_format`, single quotes escaped. */
export function flattenVars(vars: Array<[string, string]>, format = "%s='%s' "): string {
  return vars
    .map(([k, v]) => {
      const args = [k, v.replace(/'/g, `'"'"'`)];
      return format.replace(/%s/g, () => args.shift() ?? '');
    })
    .join('');
}

/** True when the script runs under a POSIX shell (no shebang, or a shell's). */
export function isShellScript(content: string): boolean {
  if (!content.startsWith('#!')) return true;
  const words = content.slice(2).split('\n', 1)[0]!.trim().split(/\s+/);
  let prog = basename(words[0] ?? '');
  if (prog === 'env')
    prog = basename(words.find((w, i) => i > 0 && !w.startsWith('-') && !w.includes('=')) ?? '');
  return SHELLS.has(prog);
}

/**
 * Puts `export K='v'` lines after the shebang, with xtrace/verbose switched off around
 * them (and restored), so `#!/bin/bash -x` does not print the values.
 */
export function injectExports(content: string, vars: Array<[string, string]>): string {
  if (vars.length === 0) return content;
  const block = [
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a JS template
    '{ __kiln_opts=; case $- in *x*) __kiln_opts=x; set +x;; esac; case $- in *v*) __kiln_opts="${__kiln_opts}v"; set +v;; esac; } 2>/dev/null',
    ...vars.map(([k, v]) => `export ${k}='${v.replace(/'/g, `'"'"'`)}'`),
    '{ case "$__kiln_opts" in *x*) set -x;; esac; case "$__kiln_opts" in *v*) set -v;; esac; unset __kiln_opts; } 2>/dev/null',
    '',
  ].join('\n');
  if (!content.startsWith('#!')) return block + content;
  const nl = content.indexOf('\n');
  if (nl < 0) return `${content}\n${block}`;
  return content.slice(0, nl + 1) + block + content.slice(nl + 1);
}

function durationMs(text: string | undefined, fallback: number): number {
  return text ? parseGoDurationMs(text) : fallback;
}

export const shellProvisioner: ProvisionerPlugin<ShellConfig> = {
  type: 'shell',
  schema: shellSchema,
  inputs: shellInputs,
  lateKeys: ['execute_command'],

  async prepare(config: ShellConfig, _ctx: PrepareContext): Promise<PrepareResult> {
    const errors: PrepareResult['errors'] = [];
    const scripts = config.script
      ? [['script', config.script] as const]
      : (config.scripts ?? []).map((s) => ['scripts', s] as const);
    for (const [key, path] of scripts) {
      try {
        statSync(path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        errors.push({
          key,
          message: `Bad script '${path}': ${code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`,
        });
      }
    }
    for (const key of ['start_retry_timeout', 'pause_after'] as const) {
      const v = config[key];
      if (!v) continue;
      try {
        parseGoDurationMs(v);
      } catch (err) {
        errors.push({
          key,
          message: `invalid duration ${JSON.stringify(v)}: ${(err as Error).message}`,
        });
      }
    }
    return { warnings: [], errors };
  },

  async provision(config: ShellConfig, ctx: ProvisionContext): Promise<void> {
    const comm = requireComm(ctx);
    const folder = config.remote_folder || '/tmp';
    const remotePath =
      config.remote_path ||
      `${folder.replace(/\/+$/, '') || ''}/${config.remote_file || `script_${randomSuffix()}.sh`}`;
    const vars = shellEnvironment(config, ctx);
    const validCodes =
      config.valid_exit_codes && config.valid_exit_codes.length > 0 ? config.valid_exit_codes : [0];
    const retryMs = durationMs(config.start_retry_timeout, 5 * 60_000);
    const execute =
      config.execute_command ||
      (config.use_env_var_file ? DEFAULT_EXECUTE_ENV_FILE : DEFAULT_EXECUTE);

    const scripts: Array<{ name: string; content: () => Promise<string> }> = [];
    if (config.inline) {
      const shebang = config.inline_shebang || '/bin/sh -e';
      const body = `#!${shebang}\n${config.inline.map((l) => `${l}\n`).join('')}`;
      scripts.push({
        name: join(tmpdir(), `packer-shell${randomSuffix()}`),
        content: async () => body,
      });
    } else {
      for (const s of config.script ? [config.script] : (config.scripts ?? [])) {
        scripts.push({ name: s, content: () => readFile(s, 'utf8') });
      }
    }

    let envFile: string | undefined;
    try {
      if (config.use_env_var_file) {
        envFile = `${folder.replace(/\/+$/, '')}/varfile_${randomSuffix()}.sh`;
        const text = vars.map(([k, v]) => `export ${k}='${v.replace(/'/g, `'"'"'`)}'\n`).join('');
        await retrying(ctx, retryMs, () =>
          comm.upload(Buffer.from(text), envFile!, { mode: 0o600, signal: ctx.signal }),
        );
      }
      for (const script of scripts) {
        throwIfAborted(ctx.signal);
        ctx.ui.say(`Provisioning with shell script: ${script.name}`);
        let content = await script.content();
        let flat = '';
        if (!config.use_env_var_file) {
          if (isShellScript(content)) content = injectExports(content, vars);
          else flat = flattenVars(vars, config.env_var_format || undefined);
        }
        await retrying(ctx, retryMs, () =>
          comm.upload(Buffer.from(content), remotePath, { mode: 0o700, signal: ctx.signal }),
        );
        const command = ctx.interpolate(execute, {
          ...ctx.generated,
          Path: remotePath,
          Vars: flat,
          EnvVarFile: envFile ?? '',
        });
        const r = await comm.exec({
          command,
          signal: ctx.signal,
          expectDisconnect: true,
          onStdout: (l) => ctx.ui.message(l),
          onStderr: (l) => ctx.ui.message(l),
        });
        const status = r.disconnected ? DISCONNECTED_EXIT_CODE : r.signal ? -1 : r.exitCode;
        if (
          r.disconnected &&
          !config.expect_disconnect &&
          !validCodes.includes(DISCONNECTED_EXIT_CODE)
        ) {
          throw new KilnError(
            'ScriptDisconnected',
            'Script disconnected unexpectedly. If you expected your script to disconnect, i.e. from a restart, you can try adding `"expect_disconnect": true` or `"valid_exit_codes": [0, 2300218]` to the shell provisioner parameters.',
            { where: ctx.label, source: 'system' },
          );
        }
        if (!r.disconnected && !validCodes.includes(status)) {
          throw new KilnError('ScriptExitCode', invalidExitCodeMessage(status, validCodes), {
            where: ctx.label,
            source: 'user',
            details: r.signal ? [`killed by signal ${r.signal}`] : [],
          });
        }
        if (!config.skip_clean) {
          await retrying(ctx, retryMs, () => removeRemote(comm, remotePath, ctx.signal));
        }
      }
      if (config.pause_after) {
        ctx.ui.say(`Pausing ${config.pause_after}...`);
        await sleep(parseGoDurationMs(config.pause_after), ctx.signal);
      }
    } finally {
      // The env file holds the values: remove it whatever happened (not on cancel: the
      // connection may be gone, and the machine is being thrown away).
      if (envFile && !config.skip_clean && !ctx.signal.aborted)
        await removeRemote(comm, envFile, undefined).catch(() => {});
    }
  },
};

async function removeRemote(
  comm: Communicator,
  path: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const q = `'${path.replace(/'/g, `'\\''`)}'`;
  // Zeroed in place first: the copy held the environment values, and a plain rm leaves
  // them in the freed blocks of the disk that becomes the image (seen with ext4).
  const r = await comm.exec({ command: `shred -n 0 -z ${q} 2>/dev/null; rm -f ${q}`, signal });
  if (r.exitCode !== 0)
    throw new KilnError(
      'RemoteCleanupFailed',
      `Error removing temporary script at ${path}: exit status ${r.exitCode}`,
      { source: 'system' },
    );
}

/** Retries an operation that fails for want of a connection (Packer's start_retry_timeout). */
async function retrying(
  ctx: ProvisionContext,
  timeoutMs: number,
  fn: () => Promise<void>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fn();
      return;
    } catch (err) {
      if (err instanceof CancelledError || err instanceof UserError || ctx.signal.aborted)
        throw err;
      if (!(err instanceof KilnError) || !err.code.startsWith('Ssh') || Date.now() >= deadline)
        throw err;
      ctx.ui.message(`Retryable error: ${err.message}`);
      await sleep(2000, ctx.signal);
    }
  }
}
