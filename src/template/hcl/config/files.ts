/**
 * Which files make an HCL2 template, as Packer reads them: one `.pkr.hcl` file, or every
 * `*.pkr.hcl` of a folder in name order; a folder's `*.auto.pkrvars.hcl` files are loaded as
 * variable files too (a single file gets none, as in Packer). HCL2's JSON syntax (`*.pkr.json`)
 * is refused with one error rather than read as a legacy template or skipped.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../../lib/errors.js';
import type { Diagnostic, File } from '../ast.js';
import { parseConfig } from '../parser.js';

/** A parsed template or variable file. */
export interface ParsedFile {
  /** The name as given (the folder joined with the file's name). */
  name: string;
  text: string;
  file: File;
}

/** The files a template path stands for. */
export interface TemplateFiles {
  /** The template's folder (the path itself for a folder). */
  dir: string;
  files: string[];
  /** `*.auto.pkrvars.hcl` of a folder, in name order. */
  autoVarFiles: string[];
}

/** Whether a path names an HCL2 template: a `.pkr.hcl` (or `.pkr.json`) file or a folder. */
export function isHclTemplatePath(path: string): boolean {
  if (path.endsWith('.pkr.hcl') || path.endsWith('.pkr.json')) return true;
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
}

/** Lists a template's files; throws a UserError for an empty folder or a missing path. */
export function templateFiles(path: string): TemplateFiles {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) {
    throw new UserError('TemplateUnreadable', `cannot read template ${path}: no such file`, {
      hint: 'Pass a .pkr.hcl file or a folder holding .pkr.hcl files.',
    });
  }
  if (!st.isDirectory()) {
    if (path.endsWith('.pkr.json')) throw jsonSyntax([path]);
    const slash = path.lastIndexOf('/');
    return { dir: slash < 0 ? '.' : path.slice(0, slash) || '/', files: [path], autoVarFiles: [] };
  }
  const names = readdirSync(path).sort();
  const files = names.filter((n) => n.endsWith('.pkr.hcl')).map((n) => join(path, n));
  // Packer reads them with the rest: leaving them out would drop builds without a word
  const json = names.filter((n) => n.endsWith('.pkr.json')).map((n) => join(path, n));
  if (json.length > 0) throw jsonSyntax(json);
  const autoVarFiles = names
    .filter((n) => n.endsWith('.auto.pkrvars.hcl') || n.endsWith('.auto.pkrvars.json'))
    .map((n) => join(path, n));
  if (files.length === 0) {
    throw new UserError('TemplateUnreadable', `the folder ${path} holds no .pkr.hcl file`, {
      hint: 'kiln reads every *.pkr.hcl file of a folder; JSON templates are passed as a file.',
    });
  }
  return { dir: path, files, autoVarFiles };
}

/** Reads and parses one file; syntax problems go to `diags`. */
export function parseFile(name: string, diags: Diagnostic[], what = 'template'): ParsedFile {
  let text: string;
  try {
    text = readFileSync(name, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(
      what === 'template' ? 'TemplateUnreadable' : 'VarFileUnreadable',
      `cannot read the ${what} file ${name}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
      { hint: what === 'template' ? undefined : 'Check the path given to -var-file.' },
    );
  }
  const r = parseConfig(text, name);
  diags.push(...r.diagnostics);
  return { name, text, file: r.value };
}

/** HCL2's JSON syntax (`*.pkr.json`), which kiln does not read: one clear error naming the files. */
function jsonSyntax(files: string[]): UserError {
  return new UserError(
    'TemplateUnsupported',
    `kiln does not read HCL2 templates in JSON syntax: ${files.join(', ')}`,
    {
      hint: 'Write the template in HCL syntax (.pkr.hcl). A legacy JSON template (no .pkr in its name) is read as it is; `kiln hcl2_upgrade` converts one to HCL2.',
    },
  );
}
