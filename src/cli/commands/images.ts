/**
 * `kiln images ls|inspect|rm|tag|untag|tree`: the local catalog from the command line.
 * Results go to stdout (tables, ids, JSON); warnings go to stderr.
 */
import type { Command } from 'commander';
import { lazyAction } from '../lazy-action.js';
import { collect } from '../options.js';
import { addOutputFlag, rejectUnknownSubcommand } from './output-flags.js';

/** Registers `kiln images` and its subcommands. */
export function registerImages(program: Command): void {
  const images = program
    .command('images')
    .description('list, inspect, tag and remove images in the local catalog');

  rejectUnknownSubcommand(images);

  const ls = images
    .command('ls', { isDefault: true })
    .alias('list')
    .description('list images (ID, NAME, BUILDER, PARENT, SIZE, CREATED, TAGS)')
    .option('-q, --quiet', 'print only the ids')
    .option(
      '-f, --filter <key=value>',
      'only images that match: name=, tag= (with * globs), builder=, parent=, before=, since= (an image); repeatable',
      collect,
    );
  addOutputFlag(ls, 'the images as a JSON array', { jsonAlias: true }).action(
    lazyAction(() => import('../actions/images.js'), 'ls'),
  );

  const inspect = images
    .command('inspect')
    .description('print images as JSON (an array, one object per image, with lineage and children)')
    .argument('<image...>', 'id, id prefix, name or tag');
  // JSON is its only format: --output json is accepted so that every data command takes it.
  addOutputFlag(inspect, 'the only format (the default)').action(
    lazyAction(() => import('../actions/images.js'), 'inspect'),
  );

  const rm = images
    .command('rm')
    .alias('remove')
    .description(
      'remove images and their files (children must be removed first; there is no --force); an AMI is only forgotten unless --deregister',
    )
    .argument('<image...>', 'id, id prefix, name or tag')
    .option(
      '--deregister',
      'also deregister AMIs in AWS (every region copy) and delete their snapshots: this cannot be undone',
    );
  addOutputFlag(rm, '{"removed": [{id, name}], "notes": […]}').action(
    lazyAction(() => import('../actions/images.js'), 'rm'),
  );

  const tag = images
    .command('tag')
    .description(
      'put a tag on an image (moving it from the image that had it; a tag images were built from needs --force)',
    )
    .argument('<image>', 'id, id prefix, name or tag')
    .argument('<tag>', 'the tag')
    .option('--force', 'move a tag even when catalog images were built from it');
  addOutputFlag(tag, '{"id", "tag", "movedFrom": the image that had it, or null}').action(
    lazyAction(() => import('../actions/images.js'), 'tag'),
  );

  const untag = images
    .command('untag')
    .description('take a tag off an image')
    .argument('<image>', 'id, id prefix, name or tag')
    .argument('<tag>', 'the tag');
  addOutputFlag(untag, '{"id", "tag"}').action(
    lazyAction(() => import('../actions/images.js'), 'untag'),
  );

  const tree = images
    .command('tree')
    .description('draw image lineage (base → build → releases)')
    .argument('[image]', 'show only the tree under this image');
  addOutputFlag(tree, 'the trees as nested JSON', { jsonAlias: true }).action(
    lazyAction(() => import('../actions/images.js'), 'tree'),
  );

  const prune = images
    .command('prune')
    .description(
      'remove old images: keep the N newest of each lineage (image name); never one with children, running instances or a current deployment. With --aws: the AMIs kiln built, read from AWS, never one a launch template version, launch configuration or instance uses; a dry run unless --deregister',
    )
    .requiredOption('--keep <n>', 'images to keep per lineage')
    .option('--dry-run', 'print what would be removed, remove nothing (the default with --aws)')
    .option('-q, --quiet', 'print only the ids of the images removed (or that would be)')
    .option(
      '--aws',
      "prune kiln's AMIs in AWS (tagged kiln:artifact) instead of local images: lineage = the AMI name without its generated tail (web-1733600000 → web)",
    )
    .option(
      '--region <region...>',
      'with --aws: regions (default: AWS_REGION); repeat or comma-separate',
    )
    .option(
      '--per-tag <key...>',
      'with --aws: split lineages by these tags too (e.g. Environment): N newest per name and tag value',
    )
    .option(
      '--deregister',
      'with --aws: deregister the AMIs listed and delete their snapshots (without it nothing changes): this cannot be undone',
    );
  addOutputFlag(
    prune,
    '{"dryRun", "removed": [{id, name}], "kept": [{id, name, reason}], "failed": [{id, name, reason}]}',
  ).action(lazyAction(() => import('../actions/images.js'), 'prune'));
}
