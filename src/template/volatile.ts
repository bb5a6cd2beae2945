/**
 * Which strings of a Packer JSON template render differently on every run: the ones that
 * call `timestamp`, `uuid`, `isotime` or `strftime`, directly or through a user variable
 * whose default does. The input hash keeps such a string's written text instead of its
 * value, so `"vm_name": "web-{{timestamp}}"` does not defeat the cache.
 */
import { type InterpolationContext, render } from './interpolate.js';
import type { VariableDecl } from './variables.js';

const VOLATILE_FUNC = /\{\{[^}]*\b(timestamp|uuid|isotime|strftime)\b/;

/** What the template knows about its run-to-run values, for `LoadedTemplate`. */
export interface Volatility {
  volatileVariables: Record<string, string>;
  isVolatile(asWritten: string): boolean;
}

/**
 * Finds the variables whose value came from a default that calls a volatile function,
 * directly or through another such variable (name → the default's text). A value given with
 * -var/-var-file is told apart by rendering the default again at the run's time: only a
 * default renders to the same value. (A default calling `uuid` never does, so it is hashed
 * by value: such a build is never reused.)
 */
export function volatility(
  declared: readonly VariableDecl[],
  values: Record<string, string>,
  ctx: Pick<InterpolationContext, 'templatePath' | 'initTime' | 'env'>,
): Volatility {
  const found = new Map<string, string>();
  const renderCtx: InterpolationContext = { ...ctx, userVariables: values, enableEnv: true };
  let grew = true;
  while (grew) {
    grew = false;
    for (const v of declared) {
      if (found.has(v.name) || v.default === undefined) continue;
      if (!VOLATILE_FUNC.test(v.default) && !refersTo(v.default, found)) continue;
      let rendered: string | undefined;
      try {
        rendered = render(v.default, renderCtx);
      } catch {
        rendered = undefined;
      }
      if (rendered !== undefined && rendered === values[v.name]) {
        found.set(v.name, v.default);
        grew = true;
      }
    }
  }
  return {
    volatileVariables: Object.fromEntries(found),
    isVolatile: (text) => VOLATILE_FUNC.test(text) || refersTo(text, found),
  };
}

function refersTo(text: string, vars: Map<string, string>): boolean {
  for (const name of vars.keys()) {
    const re = new RegExp(`\\buser\\s+[\`"]${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[\`"]`);
    if (re.test(text)) return true;
  }
  return false;
}
