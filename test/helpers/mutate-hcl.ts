/**
 * Seeded textual mutations of HCL2 source for the fuzz tests: pieces of HCL syntax inserted
 * (braces, quotes, `${`, `%{`, heredoc markers, operators, keywords, block and attribute
 * names), slices deleted or duplicated, characters replaced. The same PRNG state gives the
 * same mutation, so a failing case is replayed by its seed and number.
 */

type Rand = () => number;

const PIECES = [
  '{',
  '}',
  '[',
  ']',
  '(',
  ')',
  '"',
  '${',
  '%{',
  '}',
  '~}',
  '<<EOT\n',
  '<<-EOT\n',
  '\nEOT\n',
  '=',
  ':',
  ',',
  '.',
  '...',
  '*',
  '[*]',
  '?',
  ' : ',
  '=>',
  '==',
  '!',
  '&&',
  '||',
  '-',
  '+',
  '#',
  '//',
  '/*',
  '*/',
  '\\',
  '\\u',
  '$${',
  '%%{',
  '\n',
  '\t',
  '\r\n',
  'é',
  '😀',
  '\u0000',
  'for x in [1] : x',
  'if',
  'else',
  'endif',
  'endfor',
  'null',
  'true',
  '1.5e3',
  '-0',
  'var.',
  'local.',
  'source.',
  'build.',
  'data.null.',
  'path.root',
  'packer.version',
  'upper(',
  'jsonencode(',
  'try(',
  'can(',
  'env("HOME")',
  'file("nope")',
  'timestamp()',
  'variable "v" {',
  'locals {',
  'source "null" "z" {',
  'build {',
  'provisioner "shell-local" {',
  'post-processor "manifest" {',
  'dynamic "provisioner" {',
  'data "null" "d" {',
  'packer {',
  'sources = ["source.null.a"]',
  'only = ["null.a"]',
  'sensitive = true',
  'type = number',
  'default = 1',
  'inline = ["echo"]',
  'for_each = [1, 2]',
  'labels = ["shell-local"]',
];

/** One mutation of `src`: 1 to 4 edits. */
export function mutateHcl(r: Rand, src: string): string {
  let s = src;
  const n = 1 + Math.floor(r() * 4);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(r() * (s.length + 1));
    const op = r();
    if (op < 0.35) s = s.slice(0, at) + PIECES[Math.floor(r() * PIECES.length)]! + s.slice(at);
    else if (op < 0.7) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 6));
    else if (op < 0.85) {
      const from = Math.floor(r() * s.length);
      s = s.slice(0, at) + s.slice(from, from + Math.floor(r() * 20)) + s.slice(at);
    } else
      s =
        s.slice(0, at) + s.slice(at).replace(/\S/, String.fromCharCode(32 + Math.floor(r() * 95)));
  }
  return s;
}
