/**
 * HCL diagnostics turned into the one UserError a user sees, as the JSON front end reports a
 * template's problems: every error at once, in source order, each as `file:line:column:
 * summary: detail` with the offending line and a caret under the column.
 */

import type { SourceLoc } from '../../../core/loaded-template.js';
import { UserError } from '../../../lib/errors.js';
import type { Diagnostic, Range } from '../ast.js';

/** The source texts of a template's files, by the file name its ranges carry. */
export type Sources = ReadonlyMap<string, string>;

/** An error diagnostic. */
export function diag(summary: string, detail: string, subject: Range): Diagnostic {
  return { severity: 'error', summary, detail, subject };
}

/** A range's start as a SourceLoc. */
export function locOf(r: Range): SourceLoc {
  return { file: r.filename, line: r.start.line, column: r.start.column };
}

/** `file:line:column: summary: detail`, then the line and a caret (when the source is known). */
export function formatDiagnostic(d: Diagnostic, sources: Sources): string {
  const { subject: r } = d;
  const head = `${r.filename}:${r.start.line}:${r.start.column}: ${d.summary}${d.detail ? `: ${d.detail}` : ''}`;
  const text = sources.get(r.filename);
  if (text === undefined) return head;
  const line = text.split('\n')[r.start.line - 1]?.replace(/\r$/, '');
  if (line === undefined) return head;
  const width = String(r.start.line).length;
  const span =
    r.end.line === r.start.line ? Math.max(1, r.end.column - r.start.column) : line.length;
  return [
    head,
    `${r.start.line} | ${line}`,
    `${' '.repeat(width)} | ${' '.repeat(r.start.column - 1)}${'^'.repeat(Math.min(span, Math.max(1, line.length - r.start.column + 1)))}`,
  ].join('\n');
}

/** Throws nothing; returns the UserError for a template's error diagnostics (warnings dropped). */
export function diagnosticsError(
  diags: readonly Diagnostic[],
  sources: Sources,
  what: string,
): UserError {
  const errors = diags.filter((d) => d.severity === 'error');
  const sorted = [...errors].sort(
    (a, b) =>
      a.subject.filename.localeCompare(b.subject.filename) ||
      a.subject.start.line - b.subject.start.line ||
      a.subject.start.column - b.subject.start.column,
  );
  const details = [...new Set(sorted.map((d) => formatDiagnostic(d, sources)))];
  const n = details.length;
  return new UserError('TemplateInvalid', `template ${what} has ${n} error${n === 1 ? '' : 's'}`, {
    details,
  });
}
