import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRefreshPreferences } from './preferences.js';

describe('--preferences', () => {
  it('takes every StartInstanceRefresh preference by its AWS name', () => {
    const all = {
      MinHealthyPercentage: 50,
      MaxHealthyPercentage: 150,
      InstanceWarmup: 45,
      CheckpointPercentages: [20, 100],
      CheckpointDelay: 30,
      SkipMatching: false,
      AutoRollback: true,
      AlarmSpecification: { Alarms: ['a'] },
      ScaleInProtectedInstances: 'Wait',
      StandbyInstances: 'Terminate',
      BakeTime: 60,
    };
    expect(parseRefreshPreferences(JSON.stringify(all))).toEqual(all);
  });

  it('reads file://', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-prefs-'));
    writeFileSync(join(dir, 'p.json'), '{"AutoRollback": true}');
    expect(parseRefreshPreferences(`file://${join(dir, 'p.json')}`)).toEqual({
      AutoRollback: true,
    });
  });

  it('names every problem at once, with the nearest AWS name', () => {
    let message = '';
    try {
      parseRefreshPreferences(
        '{"MinHealthyPercent":50,"StandbyInstances":"Keep","CheckpointPercentages":[50],"AlarmSpecification":{"Alarm":["x"]}}',
      );
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(
      /MinHealthyPercent: not an instance refresh preference \(did you mean MinHealthyPercentage\?\)/,
    );
    expect(message).toMatch(/StandbyInstances: /);
    expect(message).toMatch(/AlarmSpecification\.Alarm: not an instance refresh preference/);
    expect(() => parseRefreshPreferences('{"CheckpointPercentages":[50]}')).toThrow(
      /must ascend and end with 100/,
    );
    expect(() => parseRefreshPreferences('{"MinHealthyPercentage":')).toThrow(/not JSON/);
  });
});
