/** The `-var`, `-var-file`, `-only`, `-except` flags shared by commands that load a template. */
import type { Command } from 'commander';
import { UserError } from '../../lib/errors.js';

export interface TemplateFlags {
  var?: string[];
  varFile?: string[];
  only?: string;
  except?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Adds Packer's variable and build-filter flags to a command. */
export function addTemplateFlags(
  cmd: Command,
  opts: { filters?: boolean } = { filters: true },
): Command {
  cmd
    .option('--var <key=value>', 'variable for templates, can be used multiple times', collect)
    .option(
      '--var-file <path>',
      'JSON file containing user variables, can be used multiple times',
      collect,
    );
  if (opts.filters !== false) {
    cmd
      .option('--only <names>', 'only these builds (comma-separated)')
      .option('--except <names>', 'all builds other than these (comma-separated)');
  }
  return cmd;
}

/** `-var k=v` pairs in command-line order; a missing `=` is a usage error as in Packer. */
export function parseVarFlags(vars: string[] | undefined): Array<[string, string]> {
  return (vars ?? []).map((raw) => {
    const idx = raw.indexOf('=');
    if (idx < 0) {
      throw new UserError(
        'BadVarFlag',
        `invalid value "${raw}" for flag -var: No '=' value in arg: ${raw}`,
        {
          hint: 'Write -var name=value.',
        },
      );
    }
    return [raw.slice(0, idx), raw.slice(idx + 1)];
  });
}

/** Splits `-only a,b` into names (Packer 1.6.6 matches them exactly, no globs). */
export function splitNames(list: string | undefined): string[] {
  return list ? list.split(',').filter((s) => s !== '') : [];
}
