/**
 * The JSON Schema files published in `schemas/` (for editors), as their text: `npm run
 * schemas` writes them, and a unit test fails when the committed files differ from these.
 */
import { pipelineJsonSchema } from '../pipeline/pipeline-file.js';
import { registry } from '../plugins.js';
import { templateJsonSchema } from '../template/json-schema.js';

/** Each published schema by its path in the repository, as the file's exact text. */
export function schemaFiles(): Record<string, string> {
  const text = (schema: unknown) => `${JSON.stringify(schema, null, 2)}\n`;
  return {
    'schemas/kiln-template.schema.json': text(templateJsonSchema(registry)),
    'schemas/kiln-pipeline.schema.json': text(pipelineJsonSchema()),
  };
}
