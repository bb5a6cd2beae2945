// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are HCL source, where ${} is HCL syntax
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseJsonSource } from '../json-source.js';
import { parseRawTemplate, readTemplateSource } from '../raw-template.js';
import { parseConfig } from './parser.js';
import { escapeQuotedStringLit, formatHcl, goDurationString, upgradeTemplate } from './upgrade.js';

// What `packer hcl2_upgrade` (Packer 1.6.6) wrote for every JSON template of the differential
// corpus and the sample, recorded on this machine: those kiln writes byte for byte alike, and
// those where kiln writes something else on purpose, with kiln's output and the reason.
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const readFixture = (name: string) =>
  JSON.parse(readFileSync(path.join(here, 'testdata', 'upgrade', name), 'utf8')).outputs;
const packer: Record<string, string> = readFixture('packer-1.6.6.json');
const differences: Record<string, { why: string; kiln: string }> = readFixture('differences.json');

const convertFile = (rel: string) =>
  upgradeTemplate(parseRawTemplate(readTemplateSource(path.join(root, rel))));

const convert = (template: unknown) =>
  upgradeTemplate(parseRawTemplate(parseJsonSource('t.json', JSON.stringify(template), 'JSON')));

/** The text of the build block (what follows `build {`), or of the first source block. */
const buildOf = (text: string) => text.slice(text.indexOf('build {\n'));
const sourceOf = (text: string) => {
  const start = text.indexOf('\nsource ');
  return text.slice(start + 1, text.indexOf('\n}\n', start) + 3);
};

function corpusTemplates(): string[] {
  const out: string[] = [];
  const t = 'test/corpus/templates';
  for (const f of readdirSync(path.join(root, t)))
    if (f.endsWith('.json') && f !== 'index.json') out.push(`${t}/${f}`);
  for (const d of readdirSync(path.join(root, 'test/corpus/build')))
    out.push(`test/corpus/build/${d}/template.json`);
  out.push('examples/hello-web/packer/packer-build.json');
  out.push('examples/hello-web/packer/packer-release.json');
  return out;
}

describe('hcl2_upgrade against Packer 1.6.6', () => {
  it.each(Object.keys(packer))('%s: byte for byte as Packer writes it', (rel) => {
    expect(convertFile(rel).text).toBe(packer[rel]);
  });

  it.each(Object.keys(differences))('%s: differs on purpose', (rel) => {
    expect(differences[rel]!.why).not.toBe('');
    expect(convertFile(rel).text).toBe(differences[rel]!.kiln);
  });

  it('covers every corpus template the JSON front end reads, and each output parses as HCL', () => {
    let converted = 0;
    for (const rel of corpusTemplates()) {
      let text: string;
      try {
        text = convertFile(rel).text;
      } catch {
        // A template the raw reader rejects (bad JSON, bad structure) is not converted.
        expect(packer[rel] ?? differences[rel]).toBeUndefined();
        continue;
      }
      converted++;
      expect(packer[rel] ?? differences[rel], `${rel} has no recorded output`).toBeDefined();
      const diags = parseConfig(text, rel).diagnostics.filter((d) => d.severity === 'error');
      expect(diags, rel).toEqual([]);
    }
    expect(converted).toBe(Object.keys(packer).length + Object.keys(differences).length);
  });
});

describe('{{ }} calls as HCL expressions', () => {
  const content = (s: string, variables: Record<string, string | null> = { x: 'v' }) =>
    /content += "(.*)"\n/.exec(
      sourceOf(
        convert({
          variables,
          builders: [{ type: 'file', target: 'out', content: s }],
        }).text,
      ),
    )?.[1];

  it.each([
    ['{{user `x`}}', '${var.x}'],
    ['{{ user "x" }}', '${var.x}'],
    ['{{env `HOME`}}', '${env("HOME")}'],
    ['{{timestamp}}', '${local.timestamp}'],
    ['{{isotime}}', '${timestamp()}'],
    ['{{isotime `2006-01-02`}}', '${legacy_isotime("2006-01-02")}'],
    ['{{strftime `%Y`}}', '${legacy_strftime("%Y")}'],
    ['{{template_dir}}/a', '${path.root}/a'],
    ['{{pwd}}', '${path.cwd}'],
    ['{{packer_version}}', '${packer.version}'],
    ['{{uuid}}', '${uuidv4()}'],
    ['{{build_name}}-{{build_type}}', '{{ build_name }}-{{ build_type }}'],
    ['{{user `x` | upper}}', '${upper(var.x)}'],
    ['{{lower (user `x`)}}', '${lower(var.x)}'],
    ['{{split `a-b` `-` 1}}', '${split("-", "a-b")[1]}'],
    ['{{replace_all `.` `-` (user `x`)}}', '${replace(var.x, ".", "-")}'],
    ['{{replace `.` `$` 1 (user `x`)}}', '${regex_replace(var.x, "(?s)^(.*?)\\\\.", "$${1}$$")}'],
    ['{{replace `.` `-` 0 `a.b`}}', 'a.b'],
    ['{{ .HTTPIP }}:{{.HTTPPort}}', '{{ .HTTPIP }}:{{ .HTTPPort }}'],
    ['{{- user `x` -}} ', '${var.x}'],
    ['{{/* a comment */}}x', 'x'],
    ['${HOME} %{x} {{user `x`}}', '$${HOME} %%{x} ${var.x}'],
    ['$${{user `x`}}', '${"$$"}${var.x}'],
    ['"{{user `x`}}"\n', '\\"${var.x}\\"\\n'],
  ])('%s → %s', (json, hcl) => {
    expect(content(json)).toBe(hcl);
  });

  it('an unknown function keeps its string, with the parse error above the block', () => {
    const out = convert({
      builders: [{ type: 'file', target: 'out', content: '{{ nosuch }}' }],
    });
    expect(out.text).toContain(
      '# could not parse template for following block: "template: hcl2_upgrade:3: function \\"nosuch\\" not defined"\n\nsource "file"',
    );
    expect(out.warnings).toEqual([
      'source "file" "autogenerated_1": function "nosuch" not defined',
    ]);
  });

  it('a call HCL has no equivalent for keeps its string and says so above the block', () => {
    const out = convert({
      builders: [{ type: 'file', target: 'out', content: '{{ replace `a` `b` 2 `aaa` }}' }],
    });
    expect(out.text).toContain(
      '# 1 error occurred upgrading the following block:\n# unhandled "replace" call:\n# there is no way to automatically upgrade the "replace" call.\n',
    );
    expect(sourceOf(out.text)).toContain('content = "{{ replace `a` `b` 2 `aaa` }}"');
  });
});

describe('variables', () => {
  it('env() stays in a variable default; any other call makes a local, sensitive ones a local block', () => {
    const { text } = convert({
      variables: { home: '{{env `HOME`}}', stamp: '{{timestamp}}', secret: 'pw-{{user `home`}}' },
      'sensitive-variables': ['secret'],
      builders: [{ type: 'null', communicator: 'none' }],
      provisioners: [
        {
          type: 'shell-local',
          inline: ['echo {{user `stamp`}} {{user `secret`}} {{user `later`}}'],
        },
      ],
    });
    expect(text).toContain(
      'variable "home" {\n  type    = string\n  default = "${env("HOME")}"\n}\n',
    );
    expect(text).toContain('variable "later" {\n  type = string\n}\n');
    expect(text).toContain('\nlocals {\n  stamp = "${local.timestamp}"\n}\n');
    expect(text).toContain(
      '\nlocal "secret" {\n  sensitive  = true\n  expression = "pw-${var.home}"\n}\n',
    );
    expect(buildOf(text)).toContain(
      'inline = ["echo ${local.stamp} ${local.secret} ${var.later}"]',
    );
  });
});

describe('sources and the build block', () => {
  it('sorts sources, names unnamed ones, maps only/except/override to sources, keeps timings', () => {
    const { text } = convert({
      builders: [
        { type: 'null', name: 'b c', communicator: 'none' },
        { type: 'file', target: 'x', content: '' },
      ],
      provisioners: [
        {
          type: 'shell-local',
          inline: ['true'],
          only: ['b c'],
          override: { 'b c': { inline: ['false'] } },
          pause_before: '90s',
          timeout: 1500000,
          max_retries: 2,
        },
      ],
      'error-cleanup-provisioner': { type: 'shell-local', inline: ['cleanup'] },
      'post-processors': [
        'manifest',
        [{ type: 'checksum', keep_input_artifact: true, except: ['file'] }, 'manifest'],
      ],
    });
    expect(text).toContain(
      'source "file" "autogenerated_1" {\n  content = ""\n  target  = "x"\n}\n\nsource "null" "b_c" {',
    );
    expect(buildOf(text)).toBe(
      [
        'build {',
        '  sources = ["source.file.autogenerated_1", "source.null.b_c"]',
        '',
        '  provisioner "shell-local" {',
        '    inline      = ["true"]',
        '    max_retries = "2"',
        '    only        = ["null.b_c"]',
        '    override = {',
        '      b_c = {',
        '        inline = ["false"]',
        '      }',
        '    }',
        '    pause_before = "1m30s"',
        '    timeout      = "1.5ms"',
        '  }',
        '  error-cleanup-provisioner "shell-local" {',
        '    inline = ["cleanup"]',
        '  }',
        '  post-processor "manifest" {',
        '  }',
        '  post-processors {',
        '    post-processor "checksum" {',
        '      keep_input_artifact = true',
        '      except              = ["file.autogenerated_1"]',
        '    }',
        '    post-processor "manifest" {',
        '    }',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('writes objects of objects and lists of objects as blocks, plain maps and lists as attributes', () => {
    const { text } = convert({
      builders: [
        {
          type: 'amazon-ebs',
          tags: { Name: 'n', 'a.b': 'c' },
          source_ami_filter: { filters: { name: 'debian-*' }, owners: ['1'], most_recent: true },
          launch_block_device_mappings: [{ device_name: '/dev/a' }, { device_name: '/dev/b' }],
          empty_list: [],
          nothing: null,
          big: 1e21,
          small: 0.000001,
          nested_list: [[1, 2], ['a']],
        },
      ],
    });
    expect(sourceOf(text)).toBe(
      [
        'source "amazon-ebs" "autogenerated_1" {',
        '  big = 1000000000000000000000',
        '  launch_block_device_mappings {',
        '    device_name = "/dev/a"',
        '  }',
        '  launch_block_device_mappings {',
        '    device_name = "/dev/b"',
        '  }',
        '  nested_list = [[1, 2], ["a"]]',
        '  nothing     = null',
        '  small       = 0.000001',
        '  source_ami_filter {',
        '    filters = {',
        '      name = "debian-*"',
        '    }',
        '    most_recent = true',
        '    owners      = ["1"]',
        '  }',
        '  tags = {',
        '    Name  = "n"',
        '    "a.b" = "c"',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  });
});

describe('hclwrite pieces', () => {
  it('formats as hclwrite.Format: indentation by brackets, aligned = on consecutive one-line attributes', () => {
    expect(formatHcl('a {\nb = 1\nccc = [\n1]\nd = 2\nee = 3\n# c\nf = "${x}"\n}\n')).toBe(
      'a {\n  b = 1\n  ccc = [\n  1]\n  d  = 2\n  ee = 3\n  # c\n  f = "${x}"\n}\n',
    );
  });

  it('escapes strings as hclwrite does', () => {
    expect(escapeQuotedStringLit('a"b\\c\n\t${x}%{y}$z\u0001\u00a0é')).toBe(
      'a\\"b\\\\c\\n\\t$${x}%%{y}$z\\u0001\\u00a0é',
    );
  });

  it('prints durations as Go does', () => {
    expect([0, 999, 1500, 1_500_000, 2e9, 90e9, 3_723_500_000_000].map(goDurationString)).toEqual([
      '0s',
      '999ns',
      '1.5µs',
      '1.5ms',
      '2s',
      '1m30s',
      '1h2m3.5s',
    ]);
  });
});
