/**
 * `kiln images ls|inspect|rm|tag|untag|tree`: the local catalog from the command line.
 * Results go to stdout (tables, ids, JSON); warnings go to stderr.
 */
import type { Command } from 'commander';
import { Catalog, type ImageNode, type ImageRecord, imageForest } from '../../catalog/index.js';
import { UserError } from '../../core/errors.js';
import { pruneImages } from '../../pipeline/prune.js';

/** Registers `kiln images` and its subcommands. */
export function registerImages(program: Command): void {
  const images = program
    .command('images')
    .description('list, inspect, tag and remove images in the local catalog');

  images
    .command('ls', { isDefault: true })
    .alias('list')
    .description('list images (ID, NAME, BUILDER, PARENT, SIZE, CREATED, TAGS)')
    .option('--json', 'print the images as a JSON array')
    .option('-q, --quiet', 'print only the ids')
    .action((opts: { json?: boolean; quiet?: boolean }) =>
      withCatalog((catalog) => {
        const list = catalog.listImages().reverse();
        if (opts.json) return out(`${JSON.stringify(list, null, 2)}\n`);
        if (opts.quiet) return out(list.map((i) => `${i.id}\n`).join(''));
        out(imagesTable(list, new Date()));
        const strays = catalog.strayPaths();
        if (strays.length > 0) {
          process.stderr.write(
            `warning: ${strays.length} stray entr${strays.length === 1 ? 'y' : 'ies'} under ${catalog.imagesDir} belong to no image\n` +
              'hint: `kiln gc --dry-run` lists them, `kiln gc` removes them\n',
          );
        }
        const missing = list.filter((i) => i.status === 'missing');
        if (missing.length > 0) {
          process.stderr.write(
            `warning: ${missing.length} image(s) have lost their disk file: ${missing.map((i) => i.id).join(', ')}\n` +
              'hint: remove them with `kiln images rm` (their files are gone)\n',
          );
        }
      }),
    );

  images
    .command('inspect')
    .description('print images as JSON (an array, one object per image, with lineage and children)')
    .argument('<image...>', 'id, id prefix, name or tag')
    .action((refs: string[]) =>
      withCatalog((catalog) => {
        const found = refs.map((r) => catalog.resolveImage(r));
        const detailed = found.map((image) => ({
          ...image,
          lineage: catalog.lineage(image.id).map((i) => i.id),
          children: catalog.children(image.id).map((i) => i.id),
        }));
        out(`${JSON.stringify(detailed, null, 2)}\n`);
      }),
    );

  images
    .command('rm')
    .alias('remove')
    .description(
      'remove images and their files (children must be removed first; there is no --force)',
    )
    .argument('<image...>', 'id, id prefix, name or tag')
    .action((refs: string[]) =>
      withCatalog((catalog) => {
        // Resolve and check every image before removing any: all or nothing.
        const targets = [
          ...new Map(refs.map((r) => catalog.resolveImage(r)).map((i) => [i.id, i])).values(),
        ];
        const ids = new Set(targets.map((t) => t.id));
        for (const t of targets) {
          const blocking = catalog.children(t.id).filter((c) => !ids.has(c.id));
          if (blocking.length > 0) {
            throw new UserError('ImageHasChildren', `image ${t.id} (${t.name}) has child images`, {
              details: blocking.map((c) => `${c.id} (${c.name})`),
              hint: `remove its descendants first (there is no --force): kiln images rm ${catalog.descendants(t.id).join(' ')} ${t.id}`,
            });
          }
        }
        const busy = catalog
          .listInstances()
          .filter((i) => ids.has(i.imageId) && i.state === 'running');
        if (busy.length > 0) {
          throw new UserError('ImageInUse', 'images to remove have running instances', {
            details: busy.map((i) => `${i.id}${i.name ? ` (${i.name})` : ''} runs ${i.imageId}`),
            hint: 'stop them first (kiln stop <instance>)',
          });
        }
        // Children before parents, so one command can remove a whole branch.
        const depth = (i: ImageRecord) => catalog.lineage(i.id).length;
        targets.sort((a, b) => depth(b) - depth(a));
        for (const t of targets) {
          catalog.removeImage(t.id);
          out(`${t.id}\n`);
        }
      }),
    );

  images
    .command('tag')
    .description('put a tag on an image (moving it from the image that had it)')
    .argument('<image>', 'id, id prefix, name or tag')
    .argument('<tag>', 'the tag')
    .action((ref: string, tag: string) =>
      withCatalog((catalog) => {
        const image = catalog.resolveImage(ref);
        catalog.addTag(image.id, tag);
        out(`${image.id}\n`);
      }),
    );

  images
    .command('untag')
    .description('take a tag off an image')
    .argument('<image>', 'id, id prefix, name or tag')
    .argument('<tag>', 'the tag')
    .action((ref: string, tag: string) =>
      withCatalog((catalog) => {
        const image = catalog.resolveImage(ref);
        catalog.removeTag(image.id, tag);
        out(`${image.id}\n`);
      }),
    );

  images
    .command('tree')
    .description('draw image lineage (base → build → releases)')
    .argument('[image]', 'show only the tree under this image')
    .option('--json', 'print the trees as nested JSON')
    .action((ref: string | undefined, opts: { json?: boolean }) =>
      withCatalog((catalog) => {
        let forest = imageForest(catalog.listImages());
        if (ref) {
          const root = catalog.resolveImage(ref);
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
        if (opts.json) return out(`${JSON.stringify(forest.map(treeJson), null, 2)}\n`);
        out(renderTree(forest));
      }),
    );

  images
    .command('prune')
    .description(
      'remove old images: keep the N newest of each lineage (image name); never one with children, running instances or a current deployment',
    )
    .requiredOption('--keep <n>', 'images to keep per lineage')
    .option('--dry-run', 'print what would be removed, remove nothing')
    .action((opts: { keep: string; dryRun?: boolean }) =>
      withCatalog((catalog) => {
        if (!/^\d+$/.test(opts.keep))
          throw new UserError('BadFlag', `invalid value "${opts.keep}" for --keep`, {
            hint: 'give a whole number of images to keep per lineage, e.g. --keep 3',
          });
        const report = pruneImages(catalog, {
          keep: Number(opts.keep),
          dryRun: opts.dryRun === true,
        });
        const verb = opts.dryRun ? 'would remove' : 'removed';
        for (const r of report.removed) out(`${verb} ${r.id} (${r.name})\n`);
        for (const r of report.protected) out(`kept ${r.id} (${r.name}): ${r.reason}\n`);
        for (const r of report.failed)
          process.stderr.write(`not removed ${r.id} (${r.name}): ${r.reason}\n`);
        if (report.removed.length === 0)
          process.stderr.write(`nothing to ${opts.dryRun ? 'remove' : 'prune'}\n`);
        if (report.failed.length > 0) process.exitCode = 1;
      }),
    );
}

function withCatalog(fn: (catalog: Catalog) => void): void {
  const catalog = Catalog.open();
  try {
    fn(catalog);
  } finally {
    catalog.close();
  }
}

function out(text: string): void {
  process.stdout.write(text);
}

/** The `ls` table, docker-style: columns padded to their widest cell, three spaces apart. */
export function imagesTable(images: readonly ImageRecord[], now: Date): string {
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
    humanSize(i.sizeBytes),
    timeAgo(new Date(i.createdAt), now),
    i.tags.join(',') || '-',
    ...(showStatus ? [i.status] : []),
  ]);
  return table([header, ...rows]);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map(
      (r) =>
        `${r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('   ')}\n`,
    )
    .join('');
}

/** Sizes as docker prints them: decimal units, three significant digits. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v : Number(v.toPrecision(3))}${units[u]}`;
}

/** "5 minutes ago", as docker prints it. */
export function timeAgo(then: Date, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - then.getTime()) / 1000));
  const steps: Array<[number, string]> = [
    [60, 'second'],
    [60, 'minute'],
    [24, 'hour'],
    [7, 'day'],
    [52, 'week'],
  ];
  let v = s;
  for (const [size, unit] of steps) {
    if (v < size)
      return v <= 1 && unit === 'second' ? 'just now' : `${v} ${unit}${v === 1 ? '' : 's'} ago`;
    v = Math.floor(v / size);
  }
  return `${v} year${v === 1 ? '' : 's'} ago`;
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
