/**
 * What `packer inspect` (1.6.6, JSON mode) shows for a template: description, required and
 * optional variables (sensitive defaults hidden), builders and provisioners, as lines said
 * to the user plus Packer's machine-readable records.
 */
import type { RawTemplate } from './raw-template.js';

/** One output line: something said (`say`) or a machine-readable record. */
export type InspectLine = { say: string } | { machine: string; args: string[] };

/** The lines `packer inspect TEMPLATE` prints, in order. */
export function inspectLines(tpl: RawTemplate): InspectLine[] {
  const out: InspectLine[] = [];
  const say = (s: string) => out.push({ say: s });
  const machine = (kind: string, ...args: string[]) => out.push({ machine: kind, args });
  const sensitive = new Set(tpl.sensitiveVariables);
  const shown = (name: string, def: string) => (sensitive.has(name) ? '<sensitive>' : def);

  say('Packer Inspect: JSON mode');
  if (tpl.description) {
    say('Description:\n');
    say(`${tpl.description}\n`);
  }
  if (tpl.variables.length === 0) {
    say('Variables:\n');
    say('  <No variables>');
  } else {
    const sorted = [...tpl.variables].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    const required = sorted.filter((v) => v.required);
    if (required.length > 0) {
      say('Required variables:\n');
      for (const v of required) {
        machine('template-variable', v.name, shown(v.name, ''), '1');
        say(`  ${v.name}`);
      }
      say('');
    }
    say('Optional variables and their defaults:\n');
    const width = Math.max(...sorted.map((v) => v.name.length));
    for (const v of sorted) {
      if (v.required) continue;
      const def = shown(v.name, v.default ?? '');
      machine('template-variable', v.name, def, '0');
      say(`  ${v.name}${' '.repeat(width - v.name.length)} = ${def}`);
    }
  }
  say('');
  say('Builders:\n');
  if (tpl.builders.length === 0) say('  <No builders>');
  else {
    const sorted = [...tpl.builders].sort((a, b) =>
      a.rawName < b.rawName ? -1 : a.rawName > b.rawName ? 1 : 0,
    );
    const width = Math.max(...sorted.map((b) => b.rawName.length));
    for (const b of sorted) {
      let line = `  ${b.rawName}${' '.repeat(width - b.rawName.length)}`;
      if (b.rawName !== b.type) line = `${line} (${b.type})`;
      machine('template-builder', b.rawName, b.type);
      say(line);
    }
  }
  say('');
  say('Provisioners:\n');
  if (tpl.provisioners.length === 0) say('  <No provisioners>');
  else {
    for (const p of tpl.provisioners) {
      machine('template-provisioner', p.type);
      say(`  ${p.type}`);
    }
  }
  say(
    "\nNote: If your build names contain user variables or template\nfunctions such as 'timestamp', these are processed at build time,\nand therefore only show in their raw form here.",
  );
  return out;
}
