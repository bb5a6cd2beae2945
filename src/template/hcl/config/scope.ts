/**
 * What expressions of an HCL2 template see once its variables are set: `var`, `local`,
 * `data`, `path` and the function library. Locals and data sources are evaluated on first
 * use, in dependency order (a local may use data, a data source may use locals), with cycles
 * reported; a data source is fetched once however many scopes read it.
 */
import { z } from 'zod';
import type { DataSourcePlugin } from '../../../core/plugin.js';
import { nearest } from '../../../lib/suggest.js';
import { PACKER_COMPAT_VERSION } from '../../interpolate.js';
import { checkSchema } from '../../schema-check.js';
import type { Diagnostic, Expr, Range } from '../ast.js';
import { traversals } from '../ast.js';
import { type EvalContext, evaluate } from '../evaluate.js';
import { DYNAMIC, type FunctionDef, object, str, type Value } from '../value.js';
import { decodeBody, PlaceMap } from './body.js';
import type { LabelledBlock, LocalDef } from './decode.js';
import { diag } from './diagnostics.js';
import { fromPlain } from './plain.js';

/** `packer.version`: the Packer version kiln is compatible with. */
const PACKER_OBJECT = object({ version: str(PACKER_COMPAT_VERSION) });

/** Packer's `null` data source: its `output` is its `input`. */
export const nullDataSource: DataSourcePlugin<{ input?: unknown }> = {
  type: 'null',
  schema: z.object({ input: z.unknown().optional() }).strict(),
  async fetch(config) {
    return { input: config.input ?? null, output: config.input ?? null };
  },
};

/** Fetches data sources once and shares their outputs between scopes. */
export class DataSources {
  private readonly done = new Map<string, Promise<Value>>();
  private readonly values = new Map<string, Value>();
  /** The data sources being fetched (a cycle comes back to one of them). */
  private readonly visiting: string[] = [];
  constructor(
    private readonly blocks: ReadonlyMap<string, LabelledBlock>,
    private readonly plugins: Readonly<Record<string, DataSourcePlugin>>,
    private readonly diags: Diagnostic[],
  ) {}

  /** Whether `type.name` is declared. */
  has(key: string): boolean {
    return this.blocks.has(key);
  }

  /** The `data` object of what was fetched so far. */
  object(): Value {
    const byType = new Map<string, Map<string, Value>>();
    for (const [key, v] of this.values) {
      const [type, name] = key.split('.') as [string, string];
      if (!byType.has(type)) byType.set(type, new Map());
      byType.get(type)!.set(name, v);
    }
    const types: Record<string, Value> = {};
    for (const [t, m] of byType) types[t] = object(m);
    return object(types);
  }

  /** Fetches one data source (its config evaluated in `scope`). */
  get(key: string, scope: Scope, from?: Range): Promise<Value> {
    let p = this.done.get(key);
    if (p) return p;
    if (this.visiting.includes(key)) {
      this.diags.push(
        diag(
          'Cycle in data sources',
          `The data sources refer to each other in a cycle: ${[...this.visiting, key].map((k) => `data.${k}`).join(' → ')}.`,
          from ?? this.blocks.get(key)!.block.range,
        ),
      );
      return Promise.resolve(DYNAMIC);
    }
    this.visiting.push(key);
    p = this.fetch(key, scope).finally(() => {
      this.visiting.splice(this.visiting.indexOf(key), 1);
    });
    this.done.set(key, p);
    return p;
  }

  private async fetch(key: string, scope: Scope): Promise<Value> {
    const d = this.blocks.get(key)!;
    const plugin = this.plugins[d.type];
    const fail = (v: Value = DYNAMIC) => {
      this.values.set(key, v);
      return v;
    };
    if (!plugin) {
      const near = nearest(d.type, Object.keys(this.plugins));
      this.diags.push(
        diag(
          'Unknown data source type',
          `kiln has no "${d.type}" data source${near ? `; did you mean "${near}"?` : ''} (it has: ${Object.keys(this.plugins).sort().join(', ')}).`,
          d.block.labelRanges[0] ?? d.block.typeRange,
        ),
      );
      return fail();
    }
    await scope.prepareBody(d.block.body);
    const places = new PlaceMap(d.block.range);
    const diags: Diagnostic[] = [];
    const raw = decodeBody(d.block.body, plugin.schema, places, {
      ctx: scope.ctx(),
      diagnostics: diags,
    });
    this.diags.push(...diags);
    if (diags.some((x) => x.severity === 'error')) return fail();
    const checked = checkSchema(plugin.schema as never, raw);
    if (!checked.ok) {
      for (const p of checked.problems)
        this.diags.push(
          diag('Invalid data source configuration', p.message, places.find(p.path, p.atKey)),
        );
      return fail();
    }
    try {
      const out = await plugin.fetch(checked.config, {});
      return fail(fromPlain(out));
    } catch (err) {
      this.diags.push(
        diag(
          `Data source ${key} failed`,
          (err as Error).message,
          d.block.labelRanges[1] ?? d.block.range,
        ),
      );
      return fail();
    }
  }
}

/** The variables and functions of one evaluation (the real clock, or a fixed one for hashing). */
export class Scope {
  private readonly values = new Map<string, Value>();
  private readonly visiting: string[] = [];
  constructor(
    private readonly vars: Value,
    private readonly locals: ReadonlyMap<string, LocalDef>,
    private readonly data: DataSources,
    readonly functions: Readonly<Record<string, FunctionDef>>,
    private readonly path: Value,
    private readonly diags: Diagnostic[],
  ) {}

  /** `local` as an object, made again only when a local got its value (shared by bound copies). */
  private readonly localsMemo = { version: 0, at: -1, value: object({}) };

  private localsObject(): Value {
    const m = this.localsMemo;
    if (m.at !== m.version) {
      m.value = object(this.values);
      m.at = m.version;
    }
    return m.value;
  }

  /** Root variables bound by a dynamic block (its iterator). */
  private bound: Record<string, Value> = {};

  /** The same scope (sharing its values) with more root variables: a dynamic block's iterator. */
  bind(extra: Record<string, Value>): Scope {
    const s = Object.assign(Object.create(Scope.prototype) as Scope, this);
    s.bound = { ...this.bound, ...extra };
    return s;
  }

  /** The evaluation context, with extra root variables (`source`, `build`). */
  ctx(
    extra: Record<string, Value> = {},
    locals: () => Value = () => this.localsObject(),
  ): EvalContext {
    return {
      variables: {
        ...this.bound,
        var: this.vars,
        local: locals(),
        data: this.data.object(),
        path: this.path,
        packer: PACKER_OBJECT,
        ...extra,
      },
      functions: this.functions,
    };
  }

  /**
   * The context for one local's expression: `local` holds just the locals it names when they
   * all have values (the whole object would be made again after every local: quadratic in a
   * big template), else all of them, so that a misspelt name gets its suggestion.
   */
  private ctxFor(expr: Expr): EvalContext {
    const subset = new Map<string, Value>();
    for (const t of traversals(expr)) {
      if (t.root !== 'local') continue;
      const n = t.steps[0];
      const v = typeof n === 'string' ? this.values.get(n) : undefined;
      if (!v) return this.ctx();
      subset.set(n as string, v);
    }
    return this.ctx({}, () => object(subset));
  }

  /** The value of a local (evaluating what it needs first). */
  async local(name: string, from?: Range): Promise<Value | undefined> {
    const done = this.values.get(name);
    if (done) return done;
    const def = this.locals.get(name);
    if (!def) return undefined;
    if (this.visiting.includes(name)) {
      this.diags.push(
        diag(
          'Cycle in locals',
          `The locals refer to each other in a cycle: ${[...this.visiting, name].map((n) => `local.${n}`).join(' → ')}.`,
          from ?? def.range,
        ),
      );
      this.values.set(name, DYNAMIC);
      this.localsMemo.version++;
      return DYNAMIC;
    }
    this.visiting.push(name);
    await this.prepare(def.expr);
    const r = evaluate(def.expr, this.ctxFor(def.expr));
    this.diags.push(...r.diagnostics);
    this.visiting.pop();
    this.values.set(name, r.value);
    this.localsMemo.version++;
    return r.value;
  }

  /** Evaluates every local and data source an expression refers to. */
  async prepare(expr: Expr): Promise<void> {
    for (const t of traversals(expr)) {
      if (t.root === 'local' && typeof t.steps[0] === 'string')
        await this.local(t.steps[0], t.range);
      else if (
        t.root === 'data' &&
        typeof t.steps[0] === 'string' &&
        typeof t.steps[1] === 'string'
      ) {
        const key = `${t.steps[0]}.${t.steps[1]}`;
        if (this.data.has(key)) await this.data.get(key, this, t.range);
      }
    }
  }

  /** `prepare` for every expression of a body, nested blocks included. */
  async prepareBody(body: {
    attributes: { expr: Expr }[];
    blocks: { body: unknown }[];
  }): Promise<void> {
    for (const a of body.attributes) await this.prepare(a.expr);
    for (const b of body.blocks) await this.prepareBody(b.body as typeof body);
  }

  /** Evaluates every declared local (in declaration order, dependencies first). */
  async evaluateAll(): Promise<void> {
    for (const name of this.locals.keys()) await this.local(name);
  }

  /** The locals' values (for inspect). */
  localValues(): ReadonlyMap<string, Value> {
    return this.values;
  }
}

/** `path.root` and `path.cwd`. */
export function pathObject(root: string, cwd: string): Value {
  return object({ root: str(root), cwd: str(cwd) });
}
