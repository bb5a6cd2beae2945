import { describe, expect, it } from 'vitest';
import { initScript, moduleLoadOrder } from './initrd.js';

const DEP = `kernel/drivers/virtio/virtio.ko:
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
`;

describe('moduleLoadOrder', () => {
  it('loads every dependency before the module that needs it, once', () => {
    const order = moduleLoadOrder(DEP, ['virtio_pci', 'virtio_blk', 'virtio_net']).map(
      (m) => m.name,
    );
    expect(new Set(order).size).toBe(order.length);
    for (const [mod, deps] of [
      ['virtio_pci', ['virtio', 'virtio_ring', 'virtio_pci_legacy_dev', 'virtio_pci_modern_dev']],
      ['virtio_net', ['net_failover', 'failover']],
      ['net_failover', ['failover']],
    ] as const) {
      for (const d of deps) expect(order.indexOf(d)).toBeLessThan(order.indexOf(mod));
    }
    expect(order.at(-1)).toBe('virtio_net');
  });

  it('names a module the kernel lacks', () => {
    expect(() => moduleLoadOrder(DEP, ['virtio_gpu'])).toThrow(/virtio_gpu not found/);
  });
});

describe('initScript', () => {
  it('mounts root from the command line and hands over to the real init; powers off when root never appears', () => {
    const s = initScript(['virtio', 'virtio_blk']);
    expect(s).toContain('insmod "$m"');
    expect(s).toContain('/lib/modules/virtio.ko /lib/modules/virtio_blk.ko');
    expect(s).toContain('root=*) root=');
    expect(s).toContain('exec run-init /root /sbin/init');
    expect(s).toContain('poweroff -f');
  });

  it('sets the network from ip= with ipconfig, before handing over, and only when ip= is given', () => {
    const s = initScript(['virtio_net']);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a JS template
    expect(s).toContain('ip=*) ip="${arg#ip=}"');
    expect(s).toMatch(/if \[ -n "\$\{ip:-\}" \]; then\n\s+ipconfig -t 5 -d "\$ip"/);
    expect(s.indexOf('ipconfig')).toBeLessThan(s.indexOf('exec run-init'));
  });
});
