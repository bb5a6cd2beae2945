/**
 * JSON Schemas for editors, made from the zod schemas that check the files (never written by
 * hand, so they cannot drift): the JSON template format (its root as `raw-template.ts` reads
 * it, each builder, provisioner and post-processor as its plugin declares it) and, through
 * `editorSchema`, the pipeline file. `npm run schemas` writes them to `schemas/`.
 *
 * A schema must never flag a template kiln accepts. Packer decodes plugin blocks weakly (a
 * number where a string is expected, `"2"` where a number is, `"a,b"` for a list) and any
 * value may be a `{{ }}` expression, so every scalar also accepts the other scalar forms and
 * an enum also accepts a string holding `{{`.
 */
import { z } from 'zod';
import type { Registry } from '../core/plugin.js';

/** A JSON Schema node (draft-07), as plain JSON. */
export type JsonSchema = { [key: string]: unknown };

/** The draft editors support best (VS Code, JetBrains, yaml-language-server). */
export const SCHEMA_DRAFT = 'http://json-schema.org/draft-07/schema#';

/** A zod schema as draft-07 JSON Schema describing what a file may contain (the input side). */
export function editorSchema(schema: z.ZodType): JsonSchema {
  const out = z.toJSONSchema(schema, {
    target: 'draft-7',
    io: 'input',
    unrepresentable: 'any',
  }) as JsonSchema;
  delete out.$schema;
  return out;
}

const INTERPOLATION: JsonSchema = { type: 'string', pattern: '\\{\\{' };
const SCALARS = ['string', 'number', 'integer', 'boolean'];

/** Lets a node take what Packer's weak decoding turns into it (see the header). */
export function weaken(node: JsonSchema): JsonSchema {
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    if (Array.isArray(node[key]))
      return { ...node, [key]: (node[key] as JsonSchema[]).map(weaken) };
  }
  if (node.enum !== undefined || node.const !== undefined) return alsoAccept(node, INTERPOLATION);
  const type = node.type;
  if (type === 'object') {
    const out: JsonSchema = { ...node };
    if (node.properties)
      out.properties = Object.fromEntries(
        Object.entries(node.properties as Record<string, JsonSchema>).map(([k, v]) => [
          k,
          weaken(v),
        ]),
      );
    if (typeof node.additionalProperties === 'object' && node.additionalProperties !== null)
      out.additionalProperties = weaken(node.additionalProperties as JsonSchema);
    return out;
  }
  if (type === 'array') {
    const out: JsonSchema = { ...node };
    if (typeof node.items === 'object' && node.items !== null && !Array.isArray(node.items))
      out.items = weaken(node.items as JsonSchema);
    // Packer's "a,b" → [a, b] hook.
    return alsoAccept(out, { type: 'string' });
  }
  if (typeof type === 'string' && SCALARS.includes(type)) {
    const others = SCALARS.filter((t) => t !== type && !(type === 'number' && t === 'integer'));
    const rest = Object.keys(node).filter((k) => !['type', 'description', 'default'].includes(k));
    // A bare type widens in place; one with limits (minimum, pattern…) keeps them for its own type.
    if (rest.length === 0)
      return { ...node, type: [type, ...others.filter((t) => t !== 'integer')] };
    return alsoAccept(node, { type: others.filter((t) => t !== 'integer') });
  }
  return node;
}

/** `node` or `other`, keeping the description and default on the outside for editors' hovers. */
function alsoAccept(node: JsonSchema, other: JsonSchema): JsonSchema {
  const { description, default: dflt, ...inner } = node;
  return {
    ...(description !== undefined ? { description } : {}),
    ...(dflt !== undefined ? { default: dflt } : {}),
    anyOf: [inner, other],
  };
}

const stringList: JsonSchema = { type: 'array', items: { type: 'string' } };

/** Keys Packer reads on every provisioner, beside the plugin's own. */
const PROVISIONER_KEYS: Record<string, JsonSchema> = {
  only: { ...stringList, description: 'run only for these builds (names)' },
  except: { ...stringList, description: 'run for every build but these' },
  override: {
    type: 'object',
    description: "per build name, keys that replace this provisioner's own for that build",
    additionalProperties: { type: 'object' },
  },
  pause_before: { type: 'string', description: 'wait this long before running (Go duration)' },
  max_retries: {
    type: ['integer', 'string'],
    description: 'retry a failed run up to this many times',
  },
  timeout: { type: 'string', description: 'fail the run after this long (Go duration)' },
};

/** Keys Packer reads on every post-processor, beside the plugin's own. */
const POST_PROCESSOR_KEYS: Record<string, JsonSchema> = {
  name: { type: 'string', description: 'a name for only/except (default: the type)' },
  only: { ...stringList, description: 'run only for these builds (names)' },
  except: { ...stringList, description: 'run for every build but these' },
  keep_input_artifact: {
    type: ['boolean', 'string'],
    description: "keep the artifact this post-processor was given (Packer's keep)",
  },
};

/**
 * One block kind (builders, provisioners…) as a schema that picks the plugin's own by `type`:
 * an `if type is X then X's keys` per plugin, which editors follow for completion.
 */
function byType(
  kind: string,
  plugins: Record<string, { schema: z.ZodType }>,
  common: Record<string, JsonSchema>,
): JsonSchema {
  const types = Object.keys(plugins).sort();
  return {
    type: 'object',
    required: ['type'],
    properties: { type: { description: `the ${kind} (one kiln knows)`, enum: types } },
    allOf: types.map((type) => {
      const own = weaken(editorSchema(plugins[type]!.schema));
      return {
        if: { properties: { type: { const: type } }, required: ['type'] },
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, never awaited.
        then: {
          ...own,
          properties: {
            type: { const: type },
            ...common,
            ...(own.properties as Record<string, JsonSchema> | undefined),
          },
        },
      };
    }),
  };
}

/**
 * The JSON Schema of kiln's JSON templates (Packer 1.6.6's format plus `$schema`): the root
 * keys `raw-template.ts` accepts and each plugin's config by its `type`.
 */
export function templateJsonSchema(registry: Registry): JsonSchema {
  const ppTypes = Object.keys(registry.postProcessors).sort();
  const ppRef = { anyOf: [{ enum: ppTypes }, { $ref: '#/definitions/post-processor' }] };
  return {
    $schema: SCHEMA_DRAFT,
    title: 'kiln JSON template',
    description:
      "A Packer 1.6.6 JSON template as kiln reads it (generated from kiln's schemas: npm run schemas).",
    type: 'object',
    required: ['builders'],
    properties: {
      $schema: { type: 'string', description: 'this schema, for editors; kiln ignores it' },
      description: { type: 'string', description: 'what the template makes' },
      min_packer_version: { type: 'string', description: 'the oldest Packer that may run it' },
      variables: {
        type: 'object',
        description: 'user variables: a string default, or null for a required one',
        additionalProperties: { type: ['string', 'null'] },
      },
      'sensitive-variables': {
        ...stringList,
        description: 'variables whose values are redacted from every output',
      },
      builders: {
        type: 'array',
        minItems: 1,
        items: { $ref: '#/definitions/builder' },
      },
      provisioners: { type: 'array', items: { $ref: '#/definitions/provisioner' } },
      'error-cleanup-provisioner': { $ref: '#/definitions/provisioner' },
      'post-processors': {
        type: 'array',
        description: 'each entry a type name, an object, or a chain (an array of those)',
        items: { anyOf: [...ppRef.anyOf, { type: 'array', items: ppRef }] },
      },
      push: { type: 'object', description: 'read and ignored, as Packer 1.6.6 does' },
    },
    patternProperties: { '^_': { type: 'string', description: 'a comment' } },
    additionalProperties: false,
    definitions: {
      builder: byType('builder', registry.builders, {
        name: { type: 'string', description: 'the build name (default: the type); unique' },
      }),
      provisioner: byType('provisioner', registry.provisioners, PROVISIONER_KEYS),
      'post-processor': byType('post-processor', registry.postProcessors, POST_PROCESSOR_KEYS),
    },
  };
}
