/**
 * What the steps of `kiln push` and `kiln pull` share: typed objects in place of Packer's
 * state bag. Both talk to one registry through one client; each run is journalled, so
 * `kiln gc` finds what a killed run left in the kiln home.
 */
import type { CatalogApi, ImageRecord } from '../catalog/types.js';
import type { JournalState } from '../core/journal-step.js';
import type { SavedStateFile, SavedStateTransfer } from '../core/plugin.js';
import type {
  BuiltImage,
  ChainLink,
  ClientOptions,
  Reference,
  RegistryClient,
  StateFile,
} from '../registry/index.js';
import type { PortableImage } from './portable.js';

/** What both workflows need to reach the registry. */
export interface RegistryState extends JournalState {
  catalog: CatalogApi;
  ref: Reference;
  clientOptions: ClientOptions;
  /** Set by connect-registry; closed by its cleanup. */
  client?: RegistryClient;
  /** `<home>/tmp/<run>`: blobs on their way (create-scratch-dir); removed by its cleanup. */
  scratchDir?: string;
}

/** One file of an image on its way to the registry. */
export interface OutgoingFile {
  /** Where it is in this kiln home. */
  path: string;
  /** Its name in the image's directory where it is pulled (`disk.qcow2`, `vmlinuz`). */
  name: string;
}

/** One image of the chain being pushed, parents first. */
export interface OutgoingImage {
  image: ImageRecord;
  disk: OutgoingFile;
  others: OutgoingFile[];
}

/** How one blob reached the registry. */
export interface BlobOutcome {
  digest: string;
  size: number;
  how: 'exists' | 'mounted' | 'uploaded';
  bytesSent: number;
}

/** `kiln push IMAGE REF`. */
export interface PushState extends RegistryState {
  /** The chain, base first; the pushed image last. */
  chain: OutgoingImage[];
  /** Push the pushed image's saved VM state too (the caller's explicit choice). */
  withState: boolean;
  /** The builder's way of sending the saved state, checked (it has one) before anything is sent. */
  stateTransfer?: SavedStateTransfer;
  /** Set by push-layers: each image's layers, base first. */
  links?: ChainLink[];
  blobs: BlobOutcome[];
  artifact?: BuiltImage;
  /** The digest of the saved state's referrer, when one was pushed. */
  stateDigest?: string;
}

/** One image of a pulled chain and where its files go. */
export interface IncomingImage {
  link: ChainLink;
  /** Already in this catalog: nothing to fetch. */
  present: boolean;
  /** `<images>/.tmp-<id>` and `<images>/<id>`. */
  work: string;
  final: string;
  /** Its catalog record as pushed. */
  record: PortableImage;
}

/** `kiln pull REF`. */
export interface PullState extends RegistryState {
  /** Set by fetch-manifest. */
  manifestDigest?: string;
  /** The chain, base first (fetch-manifest). */
  chain: IncomingImage[];
  /** Compressed bytes downloaded. */
  bytesFetched: number;
  /** Set once the catalog owns the pulled images: cleanup must then keep their files. */
  registered?: boolean;
  images?: ImageRecord[];
  /** Also fetch and install the image's saved VM state (`--with-state`). */
  withState: boolean;
  /** How images of a builder carry a saved state (the builder plugin's `savedState`). */
  stateTransfer?: (builder: string) => SavedStateTransfer | undefined;
  /** The state to fetch (find-state), and its verified files once downloaded (download-state). */
  savedState?: {
    digest: string;
    files: StateFile[];
    transfer: SavedStateTransfer;
    local?: SavedStateFile[];
  };
  /** Set by install-state. */
  stateInstalled?: boolean;
}
