/**
 * Packer renders the AMI's descriptive fields late, once the source AMI is known
 * (`BuildInfoTemplate`): `{{ .SourceAMIName }}`, `{{ .BuildRegion }}`… in ami_description,
 * tags, run_tags, run_volume_tags, snapshot_tags and spot_tags (keys and values). These keys
 * are the plugin's `lateKeys`, left raw by the template layer; this step renders them right
 * after source-ami, so every later step reads the final values from `state.config`.
 */
import type { Image } from '@aws-sdk/client-ec2';
import type { Step } from '../../../core/steps.js';
import type { AmazonEbsConfig } from '../config.js';
import type { AmazonState } from '../state.js';

/** Keys kiln renders itself, with the source AMI's facts (Packer's InterpolateFilter.Exclude, plus the HCL block forms). */
export const LATE_KEYS = [
  'ami_description',
  'tags',
  'tag',
  'run_tags',
  'run_tag',
  'run_volume_tags',
  'run_volume_tag',
  'snapshot_tags',
  'snapshot_tag',
  'spot_tags',
  'spot_tag',
] as const;

/** Packer's BuildInfoTemplate for a source image. */
export function buildInfo(region: string, image: Image): Record<string, unknown> {
  return {
    BuildRegion: region,
    SourceAMI: image.ImageId ?? '',
    SourceAMIName: image.Name ?? '',
    SourceAMIOwner: image.OwnerId ?? '',
    SourceAMIOwnerName: image.ImageOwnerAlias ?? '',
    SourceAMICreationDate: image.CreationDate ?? '',
    SourceAMITags: Object.fromEntries((image.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
  };
}

/** The config with every late key's strings (map keys too) passed through `render`. */
export function renderLateKeys(
  config: AmazonEbsConfig,
  render: (text: string) => string,
): AmazonEbsConfig {
  const deep = (v: unknown): unknown => {
    if (typeof v === 'string') return render(v);
    if (Array.isArray(v)) return v.map(deep);
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [render(k), deep(x)]));
    return v;
  };
  const out: Record<string, unknown> = { ...config };
  for (const key of LATE_KEYS) if (out[key] !== undefined) out[key] = deep(out[key]);
  return out as AmazonEbsConfig;
}

export const renderBuildInfo: Step<AmazonState> = {
  name: 'build-info',
  async run(state) {
    const data = buildInfo(state.config.region, state.sourceImage!);
    state.config = renderLateKeys(state.config, (text) =>
      text.includes('{{') ? state.ctx.interpolate(text, data) : text,
    );
  },
};
