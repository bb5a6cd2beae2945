// The templates, playbook and var-files agree with each other and pass the peers' checks.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const app = resolve(__dirname, '..');
const readJson = (path: string) => JSON.parse(readFileSync(resolve(app, path), 'utf8'));
const build = readJson('packer/packer-build.json');
const release = readJson('packer/packer-release.json');
const releaseChroot = readJson('packer/packer-release-chroot.json');
const packageVersion: string = readJson('package.json').version;

const qemuCommon = {
  type: 'qemu',
  communicator: 'ssh',
  ssh_username: 'root',
  ssh_timeout: '5m',
  memory: 1024,
  cpus: 2,
  accelerator: 'auto',
  headless: true,
};

describe('packer-build.json', () => {
  it('builds from the kiln base image with the agreed qemu settings', () => {
    expect(build.variables).toEqual({ base_image: 'debian-12', version: packageVersion });
    expect(build.builders).toEqual([
      { ...qemuCommon, source_image: '{{user `base_image`}}', vm_name: 'hello-web-build' },
    ]);
  });

  it('uploads the .deb build-deb.sh writes, then installs it and checks it is left disabled', () => {
    const [file, shell] = build.provisioners;
    expect(file).toEqual({
      type: 'file',
      source: '{{template_dir}}/../dist/hello-web_{{user `version`}}_all.deb',
      destination: '/tmp/hello-web_{{user `version`}}_all.deb',
    });
    expect(shell.type).toBe('shell');
    expect(shell.inline).toContain('dpkg -i /tmp/hello-web_{{user `version`}}_all.deb');
    expect(shell.inline.join('\n')).toMatch(
      /if systemctl is-enabled --quiet hello-web\.service; then .*exit 1; fi/,
    );
    expect(shell.inline).toContain('cat /etc/hello-web/hello-web.env');
  });
});

describe('packer-release.json', () => {
  it('requires source_image and defaults to the dev environment', () => {
    expect(release.variables).toEqual({ source_image: null, ...readJson('environments/dev.json') });
    expect(release.builders).toEqual([
      {
        ...qemuCommon,
        source_image: '{{user `source_image`}}',
        vm_name: 'hello-web-{{user `environment`}}',
      },
    ]);
  });

  it('runs release.yml as root with the port and environment', () => {
    const [ansible] = release.provisioners;
    expect(ansible).toMatchObject({
      type: 'ansible',
      playbook_file: '{{template_dir}}/release.yml',
      user: 'root',
    });
    expect(ansible.extra_arguments[0]).toBe('--extra-vars');
    expect(ansible.extra_arguments[1]).toContain('hello_web_port={{user `http_port`}}');
    expect(ansible.extra_arguments[1]).toContain('hello_web_environment={{user `environment`}}');
    // kiln hands Ansible the VM's known_hosts: host key checking stays on.
    expect(ansible.ansible_env_vars.join(' ')).not.toContain('HOST_KEY_CHECKING');
  });
});

describe('packer-release-chroot.json', () => {
  it('is packer-release.json with the kiln-chroot builder in place of qemu', () => {
    expect(releaseChroot.variables).toEqual(release.variables);
    expect(releaseChroot.provisioners).toEqual(release.provisioners);
    expect(releaseChroot.builders).toEqual([
      {
        type: 'kiln-chroot',
        source_image: '{{user `source_image`}}',
        vm_name: 'hello-web-{{user `environment`}}',
      },
    ]);
  });
});

describe('environments', () => {
  it.each([
    ['dev', '8080'],
    ['staging', '8081'],
    ['prod', '80'],
  ])('%s.json sets exactly the release variables, port %s', (name, port) => {
    const vars = readJson(`environments/${name}.json`);
    expect(vars).toEqual({ environment: name, http_port: port });
    expect(Object.keys(vars).sort()).toEqual(
      Object.keys(release.variables)
        .filter((k) => k !== 'source_image')
        .sort(),
    );
  });
});

describe('peer checks', () => {
  const packer = (...args: string[]) =>
    execFileSync('packer', args, { cwd: resolve(app, 'packer'), encoding: 'utf8' });

  it.each([
    ['packer-build.json'],
    ['packer-release.json'],
    ['-var-file=../environments/prod.json', 'packer-release.json'],
  ])('packer validate -syntax-only %s', (...args) => {
    expect(packer('validate', '-syntax-only', ...args)).toContain('Syntax-only check passed');
  });

  it('ansible-playbook --syntax-check release.yml', () => {
    const out = execFileSync(
      'ansible-playbook',
      ['--syntax-check', '-i', 'localhost,', resolve(app, 'packer/release.yml')],
      { encoding: 'utf8' },
    );
    expect(out).toContain('playbook: ');
  });

  it.each(['70000', '0', '80.5', 'eighty'])(
    'release.yml rejects port %j in its first task, before touching the host',
    (port) => {
      const run = spawnSync(
        'ansible-playbook',
        [
          '-i',
          'localhost,',
          '-c',
          'local',
          '-e',
          `hello_web_port=${port}`,
          resolve(app, 'packer/release.yml'),
        ],
        { encoding: 'utf8', env: { ...process.env, ANSIBLE_NOCOLOR: '1' } },
      );
      expect(run.status).toBe(2);
      expect(run.stdout).toContain('TASK [Check the port]');
      expect(run.stdout).not.toContain('TASK [Write the port into the config]');
      expect(run.stdout).toContain(
        `hello_web_port must be an integer from 1 to 65535, got \\"${port}\\"`,
      );
    },
    30_000,
  );
});
