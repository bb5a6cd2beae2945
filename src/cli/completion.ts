/**
 * Shell completion scripts (bash, zsh, fish) generated from the commander programme itself, so
 * every command, subcommand and flag is there the moment it is registered. Image and instance
 * arguments complete from the catalog through `kiln images ls -q` and `kiln ps -a -q` (read-only,
 * ~0.3 s); templates, disks and `*-file` flags complete file names; `--output` its choices.
 */
import type { Argument, Command, Option } from 'commander';

/** What a positional argument or a flag's value completes to. */
export type ValueKind = 'image' | 'instance' | 'file' | 'none' | { choices: readonly string[] };

interface FlagModel {
  long?: string;
  short?: string;
  takesValue: boolean;
  value: ValueKind;
  description: string;
}

/** One command as completion sees it (hidden commands and flags left out). */
export interface CommandModel {
  /** Canonical names from the root, e.g. ['images', 'ls']. */
  path: string[];
  /** The name and its aliases. */
  names: string[];
  description: string;
  subs: CommandModel[];
  flags: FlagModel[];
  /** One kind per positional argument; the last repeats when `variadic`. */
  args: ValueKind[];
  variadic: boolean;
}

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

function argKind(arg: Argument): ValueKind {
  if (arg.argChoices) return { choices: arg.argChoices };
  const name = arg.name();
  if (/^image/.test(name)) return 'image';
  if (/^(id|ids|instance|instances)$/.test(name)) return 'instance';
  if (/^(template|file|disk|path)$/.test(name)) return 'file';
  return 'none';
}

function flagKind(opt: Option): ValueKind {
  if (!opt.required) return 'none';
  if (opt.argChoices) return { choices: opt.argChoices };
  if (/<(file|path|dir)[^>]*>/.test(opt.flags) || /-file$/.test(opt.long ?? '')) return 'file';
  return 'none';
}

function hidden(cmd: Command): boolean {
  return (cmd as unknown as { _hidden?: boolean })._hidden === true;
}

/** The programme (or one command) as a tree of what completes. */
export function commandModel(cmd: Command, path: string[] = []): CommandModel {
  const subs = cmd.commands
    .filter((c) => !hidden(c))
    .map((c) => commandModel(c, [...path, c.name()]));
  const flags: FlagModel[] = cmd.options
    .filter((o) => !o.hidden)
    .map((o) => ({
      ...(o.long ? { long: o.long } : {}),
      ...(o.short ? { short: o.short } : {}),
      takesValue: o.required,
      value: flagKind(o),
      description: o.description,
    }));
  flags.push({
    long: '--help',
    short: '-h',
    takesValue: false,
    value: 'none',
    description: 'show help',
  });
  const model: CommandModel = {
    path,
    names: [cmd.name(), ...cmd.aliases()],
    description: cmd.description().split('\n')[0] ?? '',
    subs,
    flags,
    args: cmd.registeredArguments.map(argKind),
    variadic: cmd.registeredArguments.at(-1)?.variadic === true,
  };
  // `kiln images` runs `images ls`: the group completes the default's flags and arguments too.
  const dflt = (cmd as unknown as { _defaultCommandName?: string | null })._defaultCommandName;
  const inner = subs.find((s) => s.names[0] === dflt);
  if (inner) {
    const have = new Set(flags.map((f) => f.long ?? f.short));
    model.flags = [...flags, ...inner.flags.filter((f) => !have.has(f.long ?? f.short))];
    model.args = inner.args;
    model.variadic = inner.variadic;
  }
  return model;
}

function walk(m: CommandModel): CommandModel[] {
  return [m, ...m.subs.flatMap(walk)];
}

function flagNames(f: FlagModel): string[] {
  return [f.long, f.short].filter((x): x is string => x !== undefined);
}

/** Single-quoted for sh, bash, zsh and fish ('it'\''s' works in all but fish, so no quote is let in). */
function q(s: string): string {
  return `'${s.replace(/'/g, '’')}'`;
}

function kindWord(k: ValueKind): string {
  return typeof k === 'string' ? k : `choices:${k.choices.join(',')}`;
}

/** The completion script for `shell`. */
export function completionScript(program: Command, shell: Shell): string {
  const root = commandModel(program);
  const cmds = walk(root);
  return shell === 'fish' ? fishScript(cmds) : posixScript(cmds, shell);
}

/**
 * bash and zsh share the walk over the words typed so far: a case table per command (its
 * subcommands, flags, flags that take a value, argument kinds), then what the word under the
 * cursor completes to. Packer's single-dash long flags (`-var-file`) count as `--var-file`.
 */
function posixScript(cmds: CommandModel[], shell: 'bash' | 'zsh'): string {
  const cases = cmds.map((m) => {
    const pattern = pathPatterns(m, cmds)
      .map((p) => q(p))
      .join('|');
    const subs = m.subs.flatMap((s) => s.names).join(' ');
    const flags = m.flags.flatMap(flagNames).join(' ');
    const vflags = m.flags
      .filter((f) => f.takesValue)
      .flatMap(flagNames)
      .join(' ');
    const args = m.args.map(kindWord).join(' ');
    const lines = [
      `_kiln_subs=${q(subs)}`,
      `_kiln_flags=${q(flags)}`,
      `_kiln_vflags=${q(vflags)}`,
      `_kiln_args=${q(args)}`,
      `_kiln_rest=${m.variadic ? 1 : 0}`,
    ];
    if (shell === 'zsh') {
      const subDesc = m.subs.map((s) => `${s.names[0]!.replace(/:/g, '\\:')}:${s.description}`);
      const flagDesc = m.flags.flatMap((f) =>
        flagNames(f).map((n) => `${n.replace(/:/g, '\\:')}:${f.description.split('\n')[0]}`),
      );
      lines.push(
        `_kiln_subdesc=(${subDesc.map(q).join(' ')})`,
        `_kiln_flagdesc=(${flagDesc.map(q).join(' ')})`,
      );
    }
    return `    ${pattern || "''"})\n      ${lines.join('\n      ')}\n      ;;`;
  });
  const values = cmds.flatMap((m) =>
    m.flags
      .filter((f) => f.takesValue && f.value !== 'none')
      .flatMap((f) =>
        flagNames(f).flatMap((n) =>
          pathPatterns(m, cmds).map(
            (p) => `    ${q(`${p} ${n}`)}) echo ${q(kindWord(f.value))} ;;`,
          ),
        ),
      ),
  );
  const common = `_kiln_spec() {
  case "$1" in
${cases.join('\n')}
    *)
      _kiln_subs='' _kiln_flags='' _kiln_vflags='' _kiln_args='' _kiln_rest=0
      ;;
  esac
}

# What the value of flag $2 of command $1 completes to (nothing printed: anything).
_kiln_value_kind() {
  case "$1 $2" in
${values.join('\n')}
  esac
}

# The command path, the number of positional arguments and the flag awaiting a value, from the
# words before the cursor ($@).
_kiln_walk() {
  _kiln_path='' _kiln_npos=0 _kiln_pending=''
  _kiln_spec ''
  local w skip=''
  for w in "$@"; do
    if [[ -n $skip ]]; then
      [[ $w == = ]] && continue
      skip=''
      _kiln_pending=''
      continue
    fi
    # bash splits \`-var a=b\` at the =: what follows it is part of a value.
    if [[ $w == = ]]; then
      skip=1
      _kiln_pending='='
      continue
    fi
    [[ $w == -[a-z][a-z-]* && $w != --* && \${#w} -gt 2 ]] && w="-$w"
    if [[ $w == -* ]]; then
      if [[ $w != *=* && " $_kiln_vflags " == *" $w "* ]]; then
        skip=1
        _kiln_pending=$w
      fi
      continue
    fi
    if [[ $_kiln_npos == 0 && " $_kiln_subs " == *" $w "* ]]; then
      _kiln_path=\${_kiln_path:+$_kiln_path }$(_kiln_canonical "$_kiln_path" "$w")
      _kiln_spec "$_kiln_path"
      continue
    fi
    _kiln_npos=$((_kiln_npos + 1))
  done
}

# The kind of the positional argument number $1 (from 0) of the current command.
_kiln_arg_kind() {
  local -a kinds
  kinds=($_kiln_args)
  local n=$1
  if ((n >= \${#kinds[@]})); then
    [[ $_kiln_rest == 1 ]] || return
    n=$((\${#kinds[@]} - 1))
  fi
  ((n < 0)) && return
  echo "\${kinds[@]:$n:1}"
}

_kiln_canonical() {
  case "$1 $2" in
${cmds
  .flatMap((m) =>
    m.subs.flatMap((s) =>
      s.names
        .slice(1)
        .flatMap((alias) =>
          pathPatterns(m, cmds).map((p) => `    ${q(`${p} ${alias}`)}) echo ${q(s.names[0]!)} ;;`),
        ),
    ),
  )
  .join('\n')}
    *) echo "$2" ;;
  esac
}

# Candidates of a kind: catalog ids, choices (files are the shell's own).
_kiln_candidates() {
  case "$1" in
    image) command kiln images ls -q 2>/dev/null ;;
    instance) command kiln ps -a -q 2>/dev/null ;;
    choices:*) local c=\${1#choices:}; echo "\${c//,/ }" ;;
  esac
}
`;
  if (shell === 'bash') return bashScript(common);
  return zshScript(common);
}

/** Each spelling of a command's path (its own and its parents' aliases), e.g. 'images ls', 'images list'. */
function pathPatterns(m: CommandModel, all: CommandModel[]): string[] {
  if (m.path.length === 0) return [''];
  const parent = all.find(
    (p) => p.path.length === m.path.length - 1 && p.path.every((n, i) => n === m.path[i]),
  )!;
  return pathPatterns(parent, all).flatMap((pp) => m.names.map((n) => `${pp} ${n}`.trim()));
}

function bashScript(common: string): string {
  return `# bash completion for kiln (generated by \`kiln completion bash\`).
# Load it now:     source <(kiln completion bash)
# Or for good:     kiln completion bash > ~/.local/share/bash-completion/completions/kiln

${common}
_kiln() {
  local cur=\${COMP_WORDS[COMP_CWORD]}
  local prev=\${COMP_WORDS[COMP_CWORD-1]}
  _kiln_walk "\${COMP_WORDS[@]:1:COMP_CWORD-1}"
  [[ $cur == = ]] && cur=''
  local kind
  if [[ -n $_kiln_pending ]]; then
    kind=$(_kiln_value_kind "$_kiln_path" "$_kiln_pending")
  elif [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$_kiln_flags" -- "$cur"))
    return
  elif [[ $_kiln_npos == 0 && -n $_kiln_subs ]]; then
    COMPREPLY=($(compgen -W "$_kiln_subs" -- "$cur"))
    kind=$(_kiln_arg_kind 0)
    [[ $kind == image || $kind == instance ]] &&
      COMPREPLY+=($(compgen -W "$(_kiln_candidates "$kind")" -- "$cur"))
    return
  else
    kind=$(_kiln_arg_kind "$_kiln_npos")
  fi
  case $kind in
    file)
      compopt -o filenames 2>/dev/null
      COMPREPLY=($(compgen -f -- "$cur"))
      ;;
    '' | none) COMPREPLY=() ;;
    *) COMPREPLY=($(compgen -W "$(_kiln_candidates "$kind")" -- "$cur")) ;;
  esac
}

complete -F _kiln kiln
`;
}

function zshScript(common: string): string {
  return `#compdef kiln
# zsh completion for kiln (generated by \`kiln completion zsh\`).
# Load it now:     source <(kiln completion zsh)
# Or for good:     kiln completion zsh > "\${fpath[1]}/_kiln"   (then start a new shell)

${common}
_kiln() {
  # The shared functions split lists on spaces, as bash does.
  setopt localoptions shwordsplit
  local cur=\${words[CURRENT]}
  _kiln_walk "\${words[@]:1:$((CURRENT - 2))}"
  local kind
  if [[ -n $_kiln_pending ]]; then
    kind=$(_kiln_value_kind "$_kiln_path" "$_kiln_pending")
  elif [[ $cur == -* ]]; then
    _describe -t flags 'flag' _kiln_flagdesc
    return
  elif [[ $_kiln_npos == 0 && -n $_kiln_subs ]]; then
    _describe -t commands 'command' _kiln_subdesc
    kind=$(_kiln_arg_kind 0)
    [[ $kind == image || $kind == instance ]] && compadd -- $(_kiln_candidates "$kind")
    return
  else
    kind=$(_kiln_arg_kind "$_kiln_npos")
  fi
  case $kind in
    file) _files ;;
    '' | none) return 1 ;;
    *) compadd -- $(_kiln_candidates "$kind") ;;
  esac
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _kiln "$@"
else
  compdef _kiln kiln
fi
`;
}

/**
 * fish: the same walk as a fish function (`__kiln_state`), and one `complete` line per
 * subcommand, flag and argument, each guarded by the command path it belongs to.
 */
function fishScript(cmds: CommandModel[]): string {
  const lines: string[] = [];
  const fq = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const pathOf = (m: CommandModel) => m.path.join(' ');
  for (const m of cmds) {
    const at = `__kiln_at ${fq(pathOf(m))}`;
    for (const s of m.subs)
      for (const n of s.names)
        lines.push(
          `complete -c kiln -n ${fq(`${at}; and __kiln_npos 0`)} -a ${fq(n)} -d ${fq(s.description)}`,
        );
    for (const f of m.flags) {
      const names = [
        ...(f.long ? [`-l ${fq(f.long.slice(2))}`] : []),
        ...(f.short ? [`-s ${fq(f.short.slice(1))}`] : []),
      ].join(' ');
      const value = !f.takesValue
        ? ''
        : f.value === 'file'
          ? ' -r -F'
          : typeof f.value === 'object'
            ? ` -x -a ${fq(f.value.choices.join(' '))}`
            : ' -x';
      lines.push(
        `complete -c kiln -n ${fq(at)} ${names}${value} -d ${fq(f.description.split('\n')[0]!)}`,
      );
    }
    m.args.forEach((k, i) => {
      const last = i === m.args.length - 1 && m.variadic;
      const when = fq(`${at}; and __kiln_npos ${i}${last ? '+' : ''}`);
      if (k === 'file') lines.push(`complete -c kiln -n ${when} -F`);
      else if (k === 'image' || k === 'instance')
        lines.push(`complete -c kiln -n ${when} -f -a ${fq(`(__kiln_candidates ${k})`)}`);
      else if (typeof k === 'object')
        lines.push(`complete -c kiln -n ${when} -f -a ${fq(k.choices.join(' '))}`);
    });
  }
  const subCases = cmds.flatMap((m) =>
    m.subs.flatMap((s) =>
      s.names.map(
        (n) => `        case ${fq(`${pathOf(m)}:${n}`)}\n            echo ${fq(s.names[0]!)}`,
      ),
    ),
  );
  const vflagCases = cmds
    .filter((m) => m.flags.some((f) => f.takesValue))
    .map(
      (m) =>
        `        case ${fq(pathOf(m))}\n            echo ${m.flags
          .filter((f) => f.takesValue)
          .flatMap(flagNames)
          .map(fq)
          .join(' ')}`,
    );
  return `# fish completion for kiln (generated by \`kiln completion fish\`).
# Load it now:     kiln completion fish | source
# Or for good:     kiln completion fish > ~/.config/fish/completions/kiln.fish

# The canonical name of subcommand $argv[2] of the command path $argv[1], or failure.
function __kiln_sub
    switch "$argv[1]:$argv[2]"
${subCases.join('\n')}
        case '*'
            return 1
    end
end

# The flags of the command path $argv[1] that take a value.
function __kiln_vflags
    switch "$argv[1]"
${vflagCases.join('\n')}
    end
end

# Prints the command path, then the number of positional arguments typed so far.
function __kiln_state
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l path
    set -l npos 0
    set -l skip 0
    for w in $tokens
        if test $skip = 1
            set skip 0
            continue
        end
        if string match -qr -- '^-[a-z][a-z-]+$' $w
            set w -$w
        end
        if string match -q -- '-*' $w
            if not string match -q -- '*=*' $w; and contains -- $w (__kiln_vflags "$path")
                set skip 1
            end
            continue
        end
        if test $npos = 0; and set -l name (__kiln_sub "$path" $w)
            set path (string trim -- "$path $name")
            continue
        end
        set npos (math $npos + 1)
    end
    echo "$path"
    echo $npos
end

# True when the words typed so far are the command path $argv[1].
function __kiln_at
    set -l state (__kiln_state)
    test "$state[1]" = "$argv[1]"
end

# True when $argv[1] positional arguments were typed ("N+": at least N).
function __kiln_npos
    set -l state (__kiln_state)
    set -l n (string replace '+' '' -- $argv[1])
    if string match -q -- '*+' $argv[1]
        test $state[2] -ge $n
    else
        test $state[2] = $n
    end
end

function __kiln_candidates
    switch $argv[1]
        case image
            command kiln images ls -q 2>/dev/null
        case instance
            command kiln ps -a -q 2>/dev/null
    end
end

complete -c kiln -f
${lines.join('\n')}
`;
}
