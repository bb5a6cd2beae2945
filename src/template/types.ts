/**
 * The template layer's side of the hand-over to the build runner. The loaded builds' types
 * belong to core (`core/loaded-template.ts`): types flow from template to core, never back.
 */
import type { PrepareContext, Registry } from '../core/plugin.js';

export type {
  LoadedTemplate,
  PreparedBuild,
  PreparedPlugin,
  PreparedPostProcessor,
  PreparedProvisioner,
  SourceLoc,
} from '../core/loaded-template.js';
export type { Registry } from '../core/plugin.js';

export interface LoadOptions {
  registry: Registry;
  /** `-var k=v`, in command-line order (later wins). */
  vars?: Array<[string, string]>;
  /** `-var-file`, in command-line order (later wins; `-var` beats files given before it as in Packer). */
  varFiles?: string[];
  only?: string[];
  except?: string[];
  /** Defaults to process.env; `{{env}}` is only allowed in variable defaults. */
  env?: NodeJS.ProcessEnv;
  /** Check JSON syntax and structure only (`validate -syntax-only`). */
  syntaxOnly?: boolean;
  /** The command's open catalog (read-only is enough): what `source_image` and the like resolve against. */
  catalog: PrepareContext['catalog'];
  /**
   * Called with the text a builder's source image key (`source_image`) renders to, before
   * anything is prepared: when the text names an image elsewhere (a registry reference), it
   * brings the image into the catalog and returns its id, which then replaces the text in the
   * variables that gave it; undefined leaves the text as it is. `kiln validate` has none.
   */
  fetchSource?: (text: string) => Promise<string | undefined>;
  /** The run's start (`timestamp`, `isotime`, `strftime`); defaults to now. */
  initTime?: Date;
}
