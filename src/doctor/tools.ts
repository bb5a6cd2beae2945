/**
 * The external programs kiln runs, each asked for its version. QEMU is needed by every local
 * build and run; the others by one feature each, so their absence is a warning.
 */
import { execa } from 'execa';
import type { DoctorCheck } from './check.js';

interface Tool {
  file: string;
  /** The flag that prints its version; none for a tool that has no such flag (then its path is shown). */
  args?: string[];
  /** Debian package that provides it. */
  pkg: string;
  /** What needs it, for the message when it is missing. */
  neededBy: string;
  required: boolean;
}

const TOOLS: Tool[] = [
  {
    file: 'qemu-system-x86_64',
    args: ['--version'],
    pkg: 'qemu-system-x86',
    neededBy: 'every local build and `kiln run`',
    required: true,
  },
  {
    file: 'qemu-img',
    args: ['--version'],
    pkg: 'qemu-utils',
    neededBy: 'every local build and `kiln run`',
    required: true,
  },
  {
    file: 'ansible-playbook',
    args: ['--version'],
    pkg: 'ansible',
    neededBy: 'the ansible provisioner',
    required: false,
  },
  {
    file: 'mmdebstrap',
    args: ['--version'],
    pkg: 'mmdebstrap',
    neededBy: '`kiln base`',
    required: false,
  },
  {
    file: 'mkfs.ext4',
    args: ['-V'],
    pkg: 'e2fsprogs',
    neededBy: '`kiln base`',
    required: false,
  },
  {
    file: 'ssh',
    args: ['-V'],
    pkg: 'openssh-client',
    neededBy: 'reaching instances by hand',
    required: false,
  },
  {
    file: 'ssh-keygen',
    pkg: 'openssh-client',
    neededBy: 'handling SSH keys by hand',
    required: false,
  },
];

/** Each tool's version (its first line of output), or what is missing and how to install it. */
export async function checkTools(env: NodeJS.ProcessEnv): Promise<DoctorCheck[]> {
  return Promise.all(TOOLS.map((tool) => checkTool(tool, env)));
}

async function checkTool(tool: Tool, env: NodeJS.ProcessEnv): Promise<DoctorCheck> {
  const r = tool.args
    ? await execa(tool.file, tool.args, { env, extendEnv: false, ...QUICK })
    : await execa('sh', ['-c', 'command -v "$1"', 'sh', tool.file], {
        env,
        extendEnv: false,
        ...QUICK,
      });
  const missing = tool.args ? (r as { code?: string }).code === 'ENOENT' : r.exitCode !== 0;
  if (missing) {
    return {
      name: tool.file,
      status: tool.required ? 'fail' : 'warn',
      detail: `not found on PATH (${tool.neededBy} needs it)`,
      fix: `sudo apt-get install -y ${tool.pkg}`,
    };
  }
  const first = String(r.all ?? '')
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '');
  return { name: tool.file, status: 'ok', detail: first ?? 'found' };
}

const QUICK = { reject: false, timeout: 10_000, stdin: 'ignore', all: true } as const;
