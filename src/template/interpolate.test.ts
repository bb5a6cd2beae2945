import { describe, expect, it } from 'vitest';
import { parseGoDurationMs, parseGoDurationNs } from '../lib/duration.js';
import { formatGoTime, formatStrftime } from './go-time.js';
import {
  type InterpolationContext,
  InterpolationError,
  renderOnce,
  validateSyntax,
} from './interpolate.js';

const t0 = new Date(Date.UTC(2026, 10, 5, 7, 4, 9, 120));
const ctx = (extra: Partial<InterpolationContext> = {}): InterpolationContext => ({
  initTime: t0,
  userVariables: { a: 'Hello-World', n: '3' },
  buildName: 'fb',
  buildType: 'file',
  templatePath: '/tmp/x/t.json',
  ...extra,
});

describe('renderOnce', () => {
  it('applies Packer functions with their argument order', () => {
    expect(renderOnce('{{user `a` | upper}}|{{lower (user "a")}}', ctx())).toBe(
      'HELLO-WORLD|hello-world',
    );
    expect(renderOnce('{{split (user `a`) "-" 1}}', ctx())).toBe('World');
    expect(renderOnce('{{replace "l" "L" 2 (user `a`)}}', ctx())).toBe('HeLLo-World');
    expect(renderOnce('{{replace_all `l` `L` (user `a`)}}', ctx())).toBe('HeLLo-WorLd');
    expect(renderOnce('{{ user `a` | replace_all "-" "_" | lower }}', ctx())).toBe('hello_world');
    expect(renderOnce('{{build_name}}/{{build_type}}/{{template_dir}}', ctx())).toBe(
      'fb/file//tmp/x',
    );
    expect(renderOnce('{{timestamp}}', ctx())).toBe(String(Math.floor(t0.getTime() / 1000)));
    expect(renderOnce('{{isotime}}', ctx())).toBe('2026-11-05T07:04:09Z');
    expect(renderOnce('{{isotime `2006-01-02 15:04:05.000 Mon Jan _2 3PM`}}', ctx())).toBe(
      '2026-11-05 07:04:09.120 Thu Nov  5 7AM',
    );
    expect(renderOnce('{{strftime `%Y%m%d-%H%M%S %% %q`}}', ctx())).toBe('20261105-070409 % %q');
    expect(renderOnce('{{uuid}}', ctx())).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
    expect(renderOnce('{{ user `missing` }}', ctx())).toBe('');
    expect(renderOnce('{{ .Path }} {{.Vars}}', ctx({ data: { Path: '/tmp/s.sh' } }))).toBe(
      '/tmp/s.sh <no value>',
    );
    expect(renderOnce('a {{- " b " -}} c{{/* note */}}', ctx())).toBe('a b c');
  });

  it('rejects env outside variables, unknown functions and wrong arguments with Go wording', () => {
    expect(() => renderOnce('{{env `HOME`}}', ctx())).toThrow(
      /error calling env: env vars are not allowed here/,
    );
    expect(renderOnce('{{env `K`}}', ctx({ enableEnv: true, env: { K: 'v' } }))).toBe('v');
    expect(() => renderOnce('{{ nosuch }}', ctx())).toThrow(
      'template: root:1: function "nosuch" not defined',
    );
    expect(() => renderOnce('{{ clean_resource_name `a` }}', ctx())).toThrow(/not defined/);
    expect(() => renderOnce('{{ user `a` ', ctx())).toThrow(/unclosed action/);
    expect(() => renderOnce('{{ split `a` `-` 5 }}', ctx())).toThrow(
      /the substring 5 was unavailable/,
    );
    expect(() => renderOnce('{{ upper }}', ctx())).toThrow(
      /wrong number of args for upper: want 1 got 0/,
    );
    expect(() => renderOnce('{{ build `ID` }}', ctx())).toThrow(
      /will not be passed into your plugin/,
    );
    expect(() => renderOnce('x\n{{ user 5 }}', ctx())).toThrow(InterpolationError);
    expect(() => validateSyntax('{{ .Path }} {{ upper `x` }}', ctx())).not.toThrow();
  });
});

describe('Go durations and layouts', () => {
  it('parses what time.ParseDuration parses', () => {
    expect(parseGoDurationMs('1m30s')).toBe(90_000);
    expect(parseGoDurationMs('500ms')).toBe(500);
    expect(parseGoDurationMs('1.5h')).toBe(5_400_000);
    expect(parseGoDurationNs('0')).toBe(0);
    expect(parseGoDurationNs('2us')).toBe(2000);
    expect(() => parseGoDurationNs('10x')).toThrow('time: unknown unit "x" in duration "10x"');
    expect(() => parseGoDurationNs('10')).toThrow('time: missing unit in duration "10"');
    expect(() => parseGoDurationNs('')).toThrow('time: invalid duration ""');
  });

  it('formats layouts and strftime like Go', () => {
    expect(formatGoTime(t0, '20060102T150405Z0700')).toBe('20261105T070409Z');
    expect(formatGoTime(t0, 'January 2, 2006 -07:00 MST .999')).toBe(
      'November 5, 2026 +00:00 UTC .12',
    );
    expect(formatStrftime(t0, '%A %B %d %I:%M %p %y%L')).toBe(
      'Thursday November 05 07:04 AM 26.120',
    );
  });
});
