import { describe, expect, it } from 'vitest';
import { AnsibleOutputWatcher } from './ansible-output.js';

function watch(text: string): AnsibleOutputWatcher {
  const w = new AnsibleOutputWatcher();
  for (const l of text.split('\n')) w.line(l);
  w.end();
  return w;
}

describe('AnsibleOutputWatcher', () => {
  it('names the task and host of a fatal failure and its msg', () => {
    const w = watch(`PLAY [all] *****
TASK [Write config] *****
ok: [default]
TASK [Enable unit] *****
fatal: [default]: FAILED! => {"changed": false, "msg": "Could not find the requested service hello.service: host"}
PLAY RECAP *****`);
    expect(w.first()).toEqual({
      task: 'Enable unit',
      host: 'default',
      kind: 'FAILED',
      message: 'Could not find the requested service hello.service: host',
    });
  });

  it('forgets a failure that was ignored', () => {
    const w = watch(`TASK [Maybe] ***
fatal: [default]: FAILED! => {"msg": "no"}
...ignoring
TASK [Next] ***
ok: [default]`);
    expect(w.first()).toBeUndefined();
  });

  it('reports unreachable hosts, loop item failures and playbook errors', () => {
    expect(
      watch(
        'TASK [Gathering Facts] ***\nfatal: [web1]: UNREACHABLE! => {"changed": false, "msg": "Failed to connect", "unreachable": true}',
      ).first(),
    ).toMatchObject({
      kind: 'UNREACHABLE',
      host: 'web1',
      task: 'Gathering Facts',
    });
    expect(
      watch(
        'TASK [Loop] ***\nfailed: [default] (item=a) => {"ansible_loop_var": "item", "item": "a", "msg": "bad a"}',
      ).first(),
    ).toMatchObject({ task: 'Loop', message: 'bad a' });
    expect(watch('ERROR! the playbook: x.yml could not be found\n\n').first()).toMatchObject({
      kind: 'ERROR',
      message: 'the playbook: x.yml could not be found',
    });
  });
});
