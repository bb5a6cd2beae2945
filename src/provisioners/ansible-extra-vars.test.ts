import { describe, expect, it } from 'vitest';
import { Secrets } from '../core/secrets.js';
import { moveSecretExtraVars, parseKeyValues } from './ansible-extra-vars.js';

describe('parseKeyValues', () => {
  // Expected values are what ansible-core 2.14's parse_kv returns for the same text.
  it.each([
    ['token=tok3n-$ecret-"quoted"', { token: 'tok3n-$ecret-"quoted"' }],
    [`a=1 b="two words" c='x y'`, { a: '1', b: 'two words', c: 'x y' }],
    ['k="{{ foo }} bar" j={{ a b }}', { k: '{{ foo }} bar', j: '{{ a b }}' }],
    ['p=line1\\nline2', { p: 'line1\nline2' }],
    ['e=a\\=b', { e: 'a\\=b' }],
    [`x="it's"`, { x: "it's" }],
  ])('parses %s like Ansible', (text, expected) => {
    expect(parseKeyValues(text)).toEqual(expected);
  });

  it('gives up on a word that is not key=value', () => {
    expect(parseKeyValues('a=1 loose')).toBeUndefined();
  });
});

describe('moveSecretExtraVars', () => {
  it('moves only values holding a secret into files, in every flag spelling', async () => {
    const secrets = new Secrets();
    secrets.add('hunter22');
    const written: string[] = [];
    const write = async (n: number, json: string) => {
      written.push(json);
      return `/tmp/x-${n}.json`;
    };
    const args = await moveSecretExtraVars(
      [
        '-e',
        'port=8080',
        '--extra-vars',
        'pw=hunter22 user=me',
        '--extra-vars={"pw": "hunter22"}',
        '-e',
        '@vars.yml',
        '-v',
      ],
      secrets,
      write,
    );
    expect(args).toEqual([
      '-e',
      'port=8080',
      '--extra-vars',
      '@/tmp/x-1.json',
      '--extra-vars=@/tmp/x-2.json',
      '-e',
      '@vars.yml',
      '-v',
    ]);
    expect(JSON.parse(written[0]!)).toEqual({ pw: 'hunter22', user: 'me' });
    expect(JSON.parse(written[1]!)).toEqual({ pw: 'hunter22' });
  });
});
