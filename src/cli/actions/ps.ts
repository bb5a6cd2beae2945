/** The body of `kiln ps` (declared in `commands/ps.ts`). */
import { Catalog } from '../../catalog/index.js';
import { type InstanceStatus, listInstanceStatuses, metaOf } from '../../runtime/index.js';
import { formatTable, shortAge } from '../../ui/format.js';
import { withContext } from '../context.js';

/** `kiln ps`: the local instances as a table, ids or JSON. */
export const ps = withContext(
  { name: 'kiln ps' },
  (ctx, opts: { all?: boolean; quiet?: boolean }) => {
    using catalog = Catalog.openReadOnly();
    const rows = listInstanceStatuses(catalog, { all: opts.all === true });
    if (ctx.mode === 'json') {
      ctx.out(`${JSON.stringify(rows.map(toJson), null, 2)}\n`);
      return;
    }
    if (opts.quiet) {
      ctx.out(rows.map((s) => `${s.instance.id}\n`).join(''));
      return;
    }
    const now = new Date();
    ctx.out(
      formatTable([
        ['ID', 'NAME', 'IMAGE', 'STATE', 'PORTS', 'GROUP', 'UP'],
        ...rows.map((s) => [
          s.instance.id,
          s.instance.name ?? '',
          s.instance.imageId,
          s.state === 'running' ? 'running' : `${s.state}${s.reason ? ` (${s.reason})` : ''}`,
          s.instance.ports.map((p) => `127.0.0.1:${p.host}->${p.guest}`).join(','),
          s.instance.group ?? '',
          shortAge(new Date(s.instance.createdAt), now),
        ]),
      ]),
    );
  },
);

function toJson(s: InstanceStatus) {
  const m = metaOf(s.instance);
  return {
    id: s.instance.id,
    name: s.instance.name,
    image: s.instance.imageId,
    state: s.state,
    ...(s.reason ? { reason: s.reason } : {}),
    pid: s.instance.pid,
    ports: s.instance.ports,
    group: s.instance.group,
    createdAt: s.instance.createdAt,
    console: m.serialLog,
    memoryMb: m.memoryMb,
    cpus: m.cpus,
  };
}
