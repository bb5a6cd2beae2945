/**
 * What each provisioner uploads or runs from the local disk (`ProvisionerPlugin.inputs`):
 * the content of these paths is part of a build's input hash (`core/input-hash.ts`), so a
 * changed script, package or playbook rebuilds the image and nothing else does.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { PluginInputs } from '../core/plugin.js';

// Each function takes only the config keys it reads, spelled out here rather than imported
// from the provisioners: they import this file, so importing their types back made a circle.

interface FileKeys {
  direction?: string;
  generated?: boolean;
  source?: string;
  sources?: string[];
}

interface ScriptKeys {
  script?: string;
  scripts?: string[];
}

interface AnsibleKeys {
  playbook_file: string;
  inventory_file?: string;
  galaxy_file?: string;
  extra_arguments?: string[];
  roles_path?: string;
  collections_path?: string;
}

interface AnsibleLocalKeys {
  playbook_file?: string;
  playbook_files?: string[];
  playbook_dir?: string;
  playbook_paths?: string[];
  role_paths?: string[];
  group_vars?: string;
  host_vars?: string;
  inventory_file?: string;
  galaxy_file?: string;
  extra_arguments?: string[];
}

/**
 * Directories Ansible reads beside a playbook by convention (roles, variables, modules, and
 * the files/templates that copy/template tasks name relatively).
 */
const PLAYBOOK_SIBLINGS = [
  'roles',
  'group_vars',
  'host_vars',
  'vars',
  'files',
  'templates',
  'tasks',
  'handlers',
  'library',
  'module_utils',
  'filter_plugins',
  'collections',
];

/** The `file` provisioner's local sources (uploads only; `content` is in the config itself). */
export function fileInputs(c: FileKeys): PluginInputs {
  if ((c.direction || 'upload') !== 'upload' || c.generated) return { files: [], dirs: [] };
  return { files: [...(c.sources ?? []), ...(c.source ? [c.source] : [])], dirs: [] };
}

/** The `shell` provisioner's scripts (inline commands are in the config itself). */
export function shellInputs(c: ScriptKeys): PluginInputs {
  return { files: [...(c.script ? [c.script] : []), ...(c.scripts ?? [])], dirs: [] };
}

/** The `shell-local` provisioner's scripts. */
export function shellLocalInputs(c: ScriptKeys): PluginInputs {
  return { files: [...(c.script ? [c.script] : []), ...(c.scripts ?? [])], dirs: [] };
}

/** `@file` arguments of `-e`/`--extra-vars` (variables read from a file). */
function extraVarFiles(args: readonly string[] | undefined): string[] {
  const out: string[] = [];
  const list = args ?? [];
  for (const [i, a] of list.entries()) {
    const next = list[i + 1];
    if ((a === '-e' || a === '--extra-vars') && next?.startsWith('@')) out.push(next.slice(1));
    const m = /^(?:--extra-vars=|-e)@(.+)$/.exec(a);
    if (m) out.push(m[1]!);
  }
  return out;
}

function siblings(playbook: string): string[] {
  const dir = dirname(resolve(playbook));
  return PLAYBOOK_SIBLINGS.map((d) => join(dir, d)).filter((d) => existsSync(d));
}

/** The `ansible` provisioner: playbook, inventory, galaxy file, var files, role and collection paths. */
export function ansibleInputs(c: AnsibleKeys): PluginInputs {
  return {
    files: [
      c.playbook_file,
      ...(c.inventory_file ? [c.inventory_file] : []),
      ...(c.galaxy_file ? [c.galaxy_file] : []),
      ...extraVarFiles(c.extra_arguments),
    ],
    dirs: [
      ...siblings(c.playbook_file),
      ...(c.roles_path ? c.roles_path.split(':').filter(Boolean) : []),
      ...(c.collections_path ? c.collections_path.split(':').filter(Boolean) : []),
    ],
  };
}

/** The `ansible-local` provisioner: everything it uploads (playbooks, their dirs, roles, vars). */
export function ansibleLocalInputs(c: AnsibleLocalKeys): PluginInputs {
  const playbooks = [...(c.playbook_file ? [c.playbook_file] : []), ...(c.playbook_files ?? [])];
  return {
    files: [
      ...playbooks,
      ...(c.inventory_file ? [c.inventory_file] : []),
      ...(c.galaxy_file ? [c.galaxy_file] : []),
      ...extraVarFiles(c.extra_arguments),
    ],
    dirs: [
      ...(c.playbook_dir ? [c.playbook_dir] : playbooks.flatMap(siblings)),
      ...(c.playbook_paths ?? []),
      ...(c.role_paths ?? []),
      ...(c.group_vars ? [c.group_vars] : []),
      ...(c.host_vars ? [c.host_vars] : []),
    ],
  };
}
