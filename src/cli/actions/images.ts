/** The bodies of `kiln images` (declared in `commands/images.ts`). */
import { filterImages, parseImageFilters } from '../../catalog/image-filter.js';
import { Catalog, type ImageNode, type ImageRecord, imageForest } from '../../catalog/index.js';
import {
  listWarmStates,
  WARM_BUDGET_ENV,
  warmBudget,
  warmDirOf,
} from '../../catalog/warm-states.js';
import { diskUsage } from '../../lib/disk-usage.js';
import { UserError } from '../../lib/errors.js';
import { pruneImages } from '../../pipeline/prune.js';
import { listInstanceStatuses } from '../../runtime/index.js';
import { formatTable, humanSize, timeAgo } from '../../ui/format.js';
import { type CliContext, withContext } from '../context.js';

interface PruneOpts {
  keep: string;
  dryRun?: boolean;
  quiet?: boolean;
  aws?: boolean;
  region?: string[];
  perTag?: string[];
  deregister?: boolean;
}

/**
 * `kiln images prune --aws`: one line per AMI (kept and why, would go / went with its
 * snapshots); catalog rows of deregistered AMIs are forgotten. A dry run unless --deregister.
 */
async function pruneAws(catalog: Catalog, ctx: CliContext, opts: PruneOpts): Promise<void> {
  if (opts.dryRun && opts.deregister)
    throw new UserError('BadFlag', '--dry-run and --deregister contradict each other', {
      hint: 'without --deregister nothing changes; add it to deregister',
    });
  const split = (list: string[] | undefined) =>
    (list ?? [])
      .flatMap((r) => r.split(','))
      .map((r) => r.trim())
      .filter(Boolean);
  const regions = opts.region
    ? split(opts.region)
    : [process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? ''].filter(Boolean);
  if (regions.length === 0)
    throw new UserError('NoRegion', 'no AWS region given', {
      hint: 'pass --region or set AWS_REGION',
    });
  const apply = opts.deregister === true;
  // The SDK loads only when AMIs are pruned.
  const { pruneAmis } = await import('../../aws/retention.js');
  const entries = await pruneAmis({
    regions,
    keep: Number(opts.keep),
    perTags: split(opts.perTag),
    apply,
    signal: ctx.signal,
    onEntry: (e) => {
      const snaps = e.snapshots.length ? ` and ${e.snapshots.join(', ')}` : '';
      const what = `${e.region}:${e.id} (${e.name}, ${e.lineage}, ${e.created})`;
      const line = {
        keep: `kept ${what}: ${e.reason}`,
        'in-use': `kept ${what}: ${e.reason}`,
        deregister: `would deregister ${what}${snaps}`,
        deregistered: `deregistered ${what}${snaps}`,
        failed: `FAILED to deregister ${what}: ${e.reason}`,
      }[e.action];
      ctx.out(`${line}\n`);
      if (e.action === 'deregistered' && catalog.images.get(e.id)) {
        try {
          catalog.images.remove(e.id);
        } catch {
          catalog.images.setStatus(e.id, 'missing');
        }
      }
    },
  });
  const going = entries.filter((e) => e.action === 'deregister').length;
  if (entries.length === 0) ctx.err(`no kiln AMIs in ${regions.join(', ')}\n`);
  else if (!apply)
    ctx.err(
      going > 0
        ? `dry run: nothing changed; add --deregister to deregister these ${going} AMI(s) and delete their snapshots\n`
        : 'nothing to prune\n',
    );
  if (entries.some((e) => e.action === 'failed')) ctx.exitCode = 1;
}

/**
 * Moving a tag that templates name as their source (`"source_image": "debian-12"`) silently
 * changes what their next build starts from, and rebuilds everything below: refused unless
 * `--force`, naming the images built from it.
 */
function refuseMovingSourceTag(catalog: Catalog, image: ImageRecord, tag: string): void {
  const all = catalog.images.list();
  const holder = all.find((i) => i.tags.includes(tag));
  if (!holder || holder.id === image.id) return;
  const builtOn = all.filter((i) => i.metadata.sourceRef === tag);
  if (builtOn.length === 0) return;
  throw new UserError(
    'TagInUse',
    `tag "${tag}" is on ${holder.id} (${holder.name}), and ${builtOn.length} image(s) were built from it`,
    {
      details: builtOn.map(
        (i) => `${i.id} (${i.name}) from ${i.templatePath ?? 'a template'} (source "${tag}")`,
      ),
      hint: `moving it makes their templates' next build start from ${image.id} and rebuild; add --force to move it anyway`,
    },
  );
}

/** The VM state saved beside an image's disk (a warm start), and its size on disk; null when there is none. */
function warmStateOf(
  catalog: Catalog,
  image: ImageRecord,
): { path: string; sizeBytes: number } | null {
  const path = warmDirOf(catalog, image);
  const sizeBytes = path === undefined ? undefined : diskUsage(path);
  return path === undefined || sizeBytes === undefined ? null : { path, sizeBytes };
}

/** An action of `kiln images …` with the catalog open for its duration. */
function withCatalog<A extends unknown[]>(
  name: string,
  access: 'read' | 'write' | ((...args: A) => 'read' | 'write'),
  fn: (catalog: Catalog, ctx: CliContext, ...args: A) => void | Promise<void>,
): (...args: A) => Promise<void> {
  return withContext({ name: `kiln images ${name}` }, async (ctx, ...args: A) => {
    // Commands that only read open the catalog read-only: they never create or change it.
    const mode = typeof access === 'function' ? access(...args) : access;
    using catalog = mode === 'read' ? Catalog.openReadOnly() : Catalog.open();
    await fn(catalog, ctx, ...args);
  });
}

/** An AMI row's images by region (undefined for a local image). */
function amiRegions(image: ImageRecord): Record<string, string> | undefined {
  if (image.format !== 'ami') return undefined;
  const meta = image.metadata as { region?: string; regions?: Record<string, string> };
  return meta.regions ?? { [meta.region ?? 'us-east-1']: image.id };
}

/**
 * The `ls` table, docker-style: columns padded to their widest cell, three spaces apart. An
 * image's saved VM state (`warm`: bytes by image id) shows in its SIZE as `+… state`.
 */
export function imagesTable(
  images: readonly ImageRecord[],
  now: Date,
  warm: ReadonlyMap<string, number> = new Map(),
): string {
  const showStatus = images.some((i) => i.status !== 'ready');
  const header = [
    'ID',
    'NAME',
    'BUILDER',
    'PARENT',
    'SIZE',
    'CREATED',
    'TAGS',
    ...(showStatus ? ['STATUS'] : []),
  ];
  const rows = images.map((i) => [
    i.id,
    i.name,
    i.builder,
    i.parentId ?? '-',
    humanSize(i.sizeBytes) + (warm.has(i.id) ? ` (+${humanSize(warm.get(i.id)!)} state)` : ''),
    timeAgo(new Date(i.createdAt), now),
    i.tags.join(',') || '-',
    ...(showStatus ? [i.status] : []),
  ]);
  return formatTable([header, ...rows], 3);
}

/** Lineage drawn with box-drawing characters: `id name [tags] size (builder)` per image. */
export function renderTree(forest: readonly ImageNode[]): string {
  const lines: string[] = [];
  const label = (i: ImageRecord) =>
    `${i.id} ${i.name}${i.tags.length ? ` [${i.tags.join(', ')}]` : ''} ${humanSize(i.sizeBytes)} (${i.builder})` +
    (i.status !== 'ready' ? ` ${i.status.toUpperCase()}` : '');
  const walk = (node: ImageNode, prefix: string, last: boolean, root: boolean) => {
    lines.push(root ? label(node.image) : `${prefix}${last ? '└── ' : '├── '}${label(node.image)}`);
    const childPrefix = root ? '' : `${prefix}${last ? '    ' : '│   '}`;
    node.children.forEach((c, k) => {
      walk(c, childPrefix, k === node.children.length - 1, false);
    });
  };
  for (const root of forest) walk(root, '', true, true);
  return lines.length ? `${lines.join('\n')}\n` : '';
}

type TreeJson = ImageRecord & { children: TreeJson[] };

function treeJson(node: ImageNode): TreeJson {
  return { ...node.image, children: node.children.map(treeJson) };
}

/** `kiln images ls`: the table (or ids, or JSON), with warnings about what is missing. */
export const ls = withCatalog(
  'ls',
  'read',
  (catalog, ctx, opts: { quiet?: boolean; filter?: string[] }) => {
    const filters = parseImageFilters(opts.filter ?? []);
    const list = filterImages(catalog.images.list(), filters, (ref) =>
      catalog.images.resolve(ref),
    ).reverse();
    if (opts.quiet) return ctx.out(list.map((i) => `${i.id}\n`).join(''));
    const states = listWarmStates(catalog);
    const warm = new Map(states.map((s) => [s.imageId, s.sizeBytes]));
    if (ctx.mode === 'json')
      return ctx.out(
        `${JSON.stringify(
          list.map((i) => ({ ...i, warmState: warmStateOf(catalog, i) })),
          null,
          2,
        )}\n`,
      );
    ctx.out(imagesTable(list, new Date(), warm));
    if (states.length > 0) {
      const total = states.reduce((n, s) => n + s.sizeBytes, 0);
      let budget: string;
      try {
        budget = `of the ${humanSize(warmBudget(ctx.host.env))} budget`;
      } catch {
        budget = `(${WARM_BUDGET_ENV} is not a size)`;
      }
      ctx.err(
        `saved VM states (warm starts): ${states.length}, ${humanSize(total)} ${budget} (${WARM_BUDGET_ENV}); the SIZE column counts them as "+… state"\n`,
      );
    }
    const strays = catalog.strayPaths();
    if (strays.length > 0) {
      ctx.err(
        `warning: ${strays.length} stray entr${strays.length === 1 ? 'y' : 'ies'} under ${catalog.imagesDir} belong to no image\n` +
          'hint: `kiln gc --dry-run` lists them, `kiln gc` removes them\n',
      );
    }
    const gone = list.filter((i) => i.status === 'missing' && i.format === 'ami');
    if (gone.length > 0) {
      ctx.err(
        `warning: ${gone.length} AMI(s) are no longer available in AWS: ${gone.map((i) => i.id).join(', ')}\n` +
          'hint: remove their rows with `kiln images rm`\n',
      );
    }
    const missing = list.filter((i) => i.status === 'missing' && i.format !== 'ami');
    if (missing.length > 0) {
      ctx.err(
        `warning: ${missing.length} image(s) have lost their disk file: ${missing.map((i) => i.id).join(', ')}\n` +
          'hint: remove them with `kiln images rm` (their files are gone)\n',
      );
    }
  },
);

/** `kiln images inspect`: the images as JSON, with lineage and children. */
export const inspect = withCatalog('inspect', 'read', (catalog, ctx, refs: string[]) => {
  const found = refs.map((r) => catalog.images.resolve(r));
  const detailed = found.map((image) => ({
    ...image,
    warmState: warmStateOf(catalog, image),
    lineage: catalog.images.lineage(image.id).map((i) => i.id),
    children: catalog.images.children(image.id).map((i) => i.id),
  }));
  ctx.out(`${JSON.stringify(detailed, null, 2)}\n`);
});

/** `kiln images rm`: removes images (all or nothing), children first. */
export const rm = withCatalog(
  'rm',
  'write',
  async (catalog, ctx, refs: string[], opts: { deregister?: boolean }) => {
    // Resolve and check every image before removing any: all or nothing.
    const targets = [
      ...new Map(refs.map((r) => catalog.images.resolve(r)).map((i) => [i.id, i])).values(),
    ];
    const ids = new Set(targets.map((t) => t.id));
    for (const t of targets) {
      const blocking = catalog.images.children(t.id).filter((c) => !ids.has(c.id));
      if (blocking.length > 0) {
        throw new UserError('ImageHasChildren', `image ${t.id} (${t.name}) has child images`, {
          details: blocking.map((c) => `${c.id} (${c.name})`),
          hint: `remove its descendants first (there is no --force): kiln images rm ${catalog.images.descendants(t.id).join(' ')} ${t.id}`,
        });
      }
    }
    // `kiln ps` only reads: record here that a local instance whose QEMU is gone has exited.
    listInstanceStatuses(catalog, { all: true });
    const busy = catalog.instances
      .list()
      .filter((i) => ids.has(i.imageId) && i.state === 'running');
    if (busy.length > 0) {
      throw new UserError('ImageInUse', 'images to remove have running instances', {
        details: busy.map((i) => `${i.id}${i.name ? ` (${i.name})` : ''} runs ${i.imageId}`),
        hint: 'stop them first (kiln stop <instance>)',
      });
    }
    // Children before parents, so one command can remove a whole branch.
    const depth = (i: ImageRecord) => catalog.images.lineage(i.id).length;
    targets.sort((a, b) => depth(b) - depth(a));
    const json = ctx.mode === 'json';
    const removed: Array<{ id: string; name: string }> = [];
    const notes: string[] = [];
    for (const t of targets) {
      const amis = amiRegions(t);
      if (amis && opts.deregister) {
        // The SDK loads only when an AMI is deregistered.
        const { deregisterAmis } = await import('../../aws/ami.js');
        for (const line of await deregisterAmis(amis, ctx.signal)) ctx.err(`${line}\n`);
      }
      catalog.images.remove(t.id);
      removed.push({ id: t.id, name: t.name });
      if (!json) ctx.out(`${t.id}\n`);
      if (amis && !opts.deregister) {
        const note = `kiln forgot ${t.id}, but the AMI stays registered in AWS (${Object.entries(
          amis,
        )
          .map(([r, id]) => `${r}:${id}`)
          .join(
            ', ',
          )}); deregister it with \`aws ec2 deregister-image\`, or use \`kiln images rm --deregister\` next time`;
        notes.push(note);
        ctx.err(`note: ${note}\n`);
      }
    }
    if (json) ctx.out(`${JSON.stringify({ removed, notes })}\n`);
  },
);

/** `kiln images tag`: puts a tag on an image, moving it from the one that had it. */
export const tag = withCatalog(
  'tag',
  'write',
  (catalog, ctx, ref: string, name: string, opts: { force?: boolean }) => {
    const image = catalog.images.resolve(ref);
    if (!opts.force) refuseMovingSourceTag(catalog, image, name);
    const holder = catalog.images.list().find((i) => i.tags.includes(name));
    catalog.images.addTag(image.id, name);
    if (ctx.mode !== 'json') return ctx.out(`${image.id}\n`);
    const movedFrom = holder && holder.id !== image.id ? holder.id : null;
    ctx.out(`${JSON.stringify({ id: image.id, tag: name, movedFrom })}\n`);
  },
);

/** `kiln images untag`: takes a tag off an image. */
export const untag = withCatalog('untag', 'write', (catalog, ctx, ref: string, name: string) => {
  const image = catalog.images.resolve(ref);
  catalog.images.removeTag(image.id, name);
  ctx.out(
    ctx.mode === 'json' ? `${JSON.stringify({ id: image.id, tag: name })}\n` : `${image.id}\n`,
  );
});

/** `kiln images tree`: the lineage, drawn or as nested JSON. */
export const tree = withCatalog('tree', 'read', (catalog, ctx, ref: string | undefined) => {
  let forest = imageForest(catalog.images.list());
  if (ref) {
    const root = catalog.images.resolve(ref);
    const find = (nodes: ImageNode[]): ImageNode | undefined => {
      for (const n of nodes) {
        if (n.image.id === root.id) return n;
        const hit = find(n.children);
        if (hit) return hit;
      }
      return undefined;
    };
    const node = find(forest);
    forest = node ? [node] : [];
  }
  if (ctx.mode === 'json') return ctx.out(`${JSON.stringify(forest.map(treeJson), null, 2)}\n`);
  ctx.out(renderTree(forest));
});

/** `kiln images prune`: keeps the newest of each lineage (local, or AMIs with `--aws`). */
export const prune = withCatalog(
  'prune',
  (opts: { dryRun?: boolean; aws?: boolean; deregister?: boolean }) =>
    opts.dryRun || (opts.aws && !opts.deregister) ? 'read' : 'write',
  async (catalog, ctx, opts: PruneOpts) => {
    if (!/^\d+$/.test(opts.keep))
      throw new UserError('BadFlag', `invalid value "${opts.keep}" for --keep`, {
        hint: 'give a whole number of images to keep per lineage, e.g. --keep 3',
      });
    if (opts.aws) return pruneAws(catalog, ctx, opts);
    for (const flag of ['region', 'perTag', 'deregister'] as const)
      if (opts[flag] !== undefined)
        throw new UserError(
          'BadFlag',
          `--${flag === 'perTag' ? 'per-tag' : flag} is for AMIs: add --aws`,
        );
    if (!opts.dryRun) listInstanceStatuses(catalog, { all: true });
    const report = pruneImages(catalog, {
      keep: Number(opts.keep),
      dryRun: opts.dryRun === true,
    });
    if (report.failed.length > 0) ctx.exitCode = 1;
    if (ctx.mode === 'json') {
      const json = {
        dryRun: opts.dryRun === true,
        removed: report.removed,
        kept: report.protected,
        failed: report.failed,
      };
      return ctx.out(`${JSON.stringify(json, null, 2)}\n`);
    }
    for (const r of report.failed) ctx.err(`not removed ${r.id} (${r.name}): ${r.reason}\n`);
    if (opts.quiet) return ctx.out(report.removed.map((r) => `${r.id}\n`).join(''));
    const verb = opts.dryRun ? 'would remove' : 'removed';
    for (const r of report.removed) ctx.out(`${verb} ${r.id} (${r.name})\n`);
    for (const r of report.protected) ctx.out(`kept ${r.id} (${r.name}): ${r.reason}\n`);
    if (report.removed.length === 0) ctx.err(`nothing to ${opts.dryRun ? 'remove' : 'prune'}\n`);
  },
);
