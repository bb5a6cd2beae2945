/**
 * Instance refresh preferences as `kiln deploy aws --preferences` takes them: a JSON object
 * (or `file://path` to one) with the names and shapes of the AWS API's
 * StartInstanceRefresh `Preferences` — what `aws autoscaling start-instance-refresh
 * --preferences` takes — checked before any AWS call, every problem at once.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { UserError } from '../../lib/errors.js';
import { nearest } from '../../lib/suggest.js';

const percent = z.number().int().min(0).max(100);

/** The StartInstanceRefresh preferences kiln passes through, by their AWS names. */
export const refreshPreferencesSchema = z.strictObject({
  /** Share of the group that stays in service during the refresh (0–100; AWS's default 90). */
  MinHealthyPercentage: percent.optional(),
  /** Upper bound of capacity while replacing, 100–200 (above 100: launch before terminating). */
  MaxHealthyPercentage: z.number().int().min(100).max(200).optional(),
  /** Seconds a new instance gets before it counts as in service. */
  InstanceWarmup: z.number().int().min(0).optional(),
  /** Percentages at which the refresh pauses, ascending, the last one 100. */
  CheckpointPercentages: z.array(z.number().int().min(1).max(100)).min(1).optional(),
  /** Seconds to wait at each checkpoint (0–172800). */
  CheckpointDelay: z.number().int().min(0).max(172_800).optional(),
  /** Skip instances that already run the new launch template version (kiln's default: true). */
  SkipMatching: z.boolean().optional(),
  /** Let AWS roll the group back itself when the refresh fails. */
  AutoRollback: z.boolean().optional(),
  /** CloudWatch alarms that fail the refresh when they go to ALARM. */
  AlarmSpecification: z.strictObject({ Alarms: z.array(z.string().min(1)).min(1) }).optional(),
  /** What to do with scale-in protected instances: Refresh, Ignore or Wait. */
  ScaleInProtectedInstances: z.enum(['Refresh', 'Ignore', 'Wait']).optional(),
  /** What to do with instances in Standby: Terminate, Ignore or Wait. */
  StandbyInstances: z.enum(['Terminate', 'Ignore', 'Wait']).optional(),
  /** Seconds to wait after the last replacement before the refresh counts as done. */
  BakeTime: z.number().int().min(0).max(172_800).optional(),
});

export type RefreshPreferencesInput = z.infer<typeof refreshPreferencesSchema>;

const KEYS = Object.keys(refreshPreferencesSchema.shape);

/**
 * Reads `--preferences`: a JSON object or `file://path`; a UserError naming every wrong key
 * (with the nearest AWS name) and value.
 */
export function parseRefreshPreferences(text: string): RefreshPreferencesInput {
  let raw = text.trim();
  const flag = '--preferences';
  if (raw.startsWith('file://')) {
    const path = raw.slice('file://'.length);
    try {
      raw = readFileSync(path, 'utf8');
    } catch (err) {
      throw new UserError(
        'InvalidOption',
        `${flag}: cannot read ${path}: ${(err as Error).message}`,
      );
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new UserError('InvalidOption', `${flag}: not JSON: ${(err as Error).message}`, {
      hint: `give a JSON object with StartInstanceRefresh's names, e.g. '{"MinHealthyPercentage":50,"AutoRollback":true}'`,
    });
  }
  const res = refreshPreferencesSchema.safeParse(value);
  const problems: string[] = [];
  if (!res.success) {
    for (const issue of res.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) {
          const near = issue.path.length === 0 ? nearest(key, KEYS) : undefined;
          problems.push(
            `${[...issue.path, key].join('.')}: not an instance refresh preference${near ? ` (did you mean ${near}?)` : ''}`,
          );
        }
      } else problems.push(`${issue.path.join('.') || '(top)'}: ${issue.message}`);
    }
  } else {
    const c = res.data.CheckpointPercentages;
    if (c && (c.some((p, i) => i > 0 && p <= c[i - 1]!) || c.at(-1) !== 100))
      problems.push('CheckpointPercentages: must ascend and end with 100');
    const { MinHealthyPercentage: min, MaxHealthyPercentage: max } = res.data;
    if (min !== undefined && max !== undefined && max - min > 100)
      problems.push('MaxHealthyPercentage: at most 100 above MinHealthyPercentage');
  }
  if (problems.length > 0)
    throw new UserError('InvalidOption', `${flag}: ${problems.join('; ')}`, {
      hint: `the names are StartInstanceRefresh's Preferences: ${KEYS.join(', ')}`,
    });
  return res.data!;
}
