/** Image lineage as trees, for `kiln images tree`. */
import type { ImageRecord } from './types.js';

/** Builds lineage trees: every image under its parent, roots first, oldest first at each level. */
export interface ImageNode {
  image: ImageRecord;
  children: ImageNode[];
}

/** Arranges images into trees by parent; an image whose parent is not in `images` becomes a root. */
export function imageForest(images: readonly ImageRecord[]): ImageNode[] {
  const nodes = new Map(images.map((image) => [image.id, { image, children: [] as ImageNode[] }]));
  const roots: ImageNode[] = [];
  for (const node of nodes.values()) {
    const parent = node.image.parentId ? nodes.get(node.image.parentId) : undefined;
    if (parent) parent.children.push(node);
    else roots.push(node);
  }
  return roots;
}
