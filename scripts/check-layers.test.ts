import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const script = join(import.meta.dirname, 'check-layers.mjs');
const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** A repository holding `files` (path under the root → content). */
function repo(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'kiln-layers-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

function check(root: string): { code: number | null; lines: string[] } {
  const r = spawnSync(process.execPath, [script, root], { encoding: 'utf8' });
  return { code: r.status, lines: r.stdout.split('\n').filter((l) => l !== '') };
}

const registry = `import { qemu } from './builders/qemu/builder.js';
import { nullBuilder } from './builders/null/builder.js';
export const registry = { builders: { qemu, null: nullBuilder, 'amazon-ebs': qemu } };
`;

describe('check-layers', () => {
  it('passes a tree that keeps the layers', () => {
    const root = repo({
      'src/plugins.ts': registry,
      'src/builders/qemu/builder.ts':
        "import { run } from './steps/run.js';\nexport const qemu = run;\n",
      'src/builders/qemu/steps/run.ts':
        "import type { E } from '../../../core/errors.js';\nexport const run = 1;\n",
      'src/builders/null/builder.ts': 'export const nullBuilder = 2;\n',
      'src/core/errors.ts': [
        "// a comment naming the qemu builder, 'qemu', is no code",
        "export const json = JSON.stringify(null); // 'null'",
        "export const re = /'qemu'/;",
        'export type E = string;',
        '',
      ].join('\n'),
      'src/core/hash.test.ts': "import '../plugins.js';\nconst t = { type: 'qemu' };\n",
      'src/template/load.ts': "import type { E } from '../core/errors.js';\n",
    });
    expect(check(root)).toEqual({ code: 0, lines: [] });
  });

  it('names every violation as file: imports file (rule)', () => {
    const root = repo({
      'src/plugins.ts': registry,
      'src/builders/qemu/builder.ts': 'export const qemu = 1;\n',
      'src/builders/qemu/driver.ts': 'export const launch = 1;\n',
      'src/builders/null/builder.ts': 'export const nullBuilder = 2;\n',
      'src/runtime/start.ts': "const d = await import('../builders/qemu/driver.js');\n",
      'src/runtime/start.test.ts': "import { launch } from '../builders/qemu/driver.js';\n",
      'src/core/hash.ts': [
        "import type { Loaded } from '../template/types.js';",
        'export const kinds = new Set([`qemu`, "amazon-ebs"]);',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: source text holding a template literal
        "export const n = (t: string) => t === 'null' ? `${t}-${'x'}` : t;",
        '',
      ].join('\n'),
      'src/core/errors.ts': 'export class E {}\n',
      'src/template/types.ts':
        "import {\n  E,\n} from '../core/errors.js';\nexport type Loaded = E;\n",
      'src/provisioners/a.ts': "export { b } from './b.js';\nexport const a = 1;\n",
      'src/provisioners/b.ts': "import { a } from './a.js';\nexport const b = a;\n",
    });
    const { code, lines } = check(root);
    expect(code).toBe(1);
    expect(lines.sort()).toEqual(
      [
        'src/runtime/start.ts: imports src/builders/qemu/driver.ts (builder-private)',
        'src/runtime/start.test.ts: imports src/builders/qemu/driver.ts (builder-private)',
        "src/core/hash.ts:2: names builder 'qemu' (backend-in-core)",
        "src/core/hash.ts:2: names builder 'amazon-ebs' (backend-in-core)",
        "src/core/hash.ts:3: names builder 'null' (backend-in-core)",
        'src/provisioners/a.ts: imports src/provisioners/b.ts (file-cycle among src/provisioners/a.ts, src/provisioners/b.ts)',
        'src/provisioners/b.ts: imports src/provisioners/a.ts (file-cycle among src/provisioners/a.ts, src/provisioners/b.ts)',
        'src/core/hash.ts: imports src/template/types.ts (folder-cycle core ↔ template)',
        'src/template/types.ts: imports src/core/errors.ts (folder-cycle core ↔ template)',
      ].sort(),
    );
  });
});
