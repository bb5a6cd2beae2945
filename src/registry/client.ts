/**
 * A client for one registry, speaking the OCI distribution spec v1.1: blobs (exists?,
 * cross-repository mount, chunked resumable upload, verified streamed download),
 * manifests by tag or digest, tags, and referrers (the API, or the tag-schema fallback).
 * It knows blobs and manifests, never what they mean to kiln.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline as pipelineCb, type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CancelledError,
  diskFullError,
  isDiskFull,
  KilnError,
  SystemError,
  UserError,
} from '../lib/errors.js';
import {
  Authenticator,
  authRefused,
  type CredentialStore,
  type Credentials,
  DockerConfigCredentials,
  repositoryScope,
} from './auth.js';
import {
  type Descriptor,
  digestOf,
  encodeJson,
  type ImageIndex,
  type ImageManifest,
  imageIndexSchema,
  imageManifestSchema,
  isIndexMediaType,
  MANIFEST_ACCEPT,
  MediaType,
} from './manifest.js';
import { checkDigest, type Reference } from './reference.js';
import { type HttpResponse, Transport, type TransportOptions } from './transport.js';
import { type UploadStateStore, uploadKey } from './upload-state.js';

/** How to reach and log in to a registry. */
export interface ClientOptions extends TransportOptions {
  /** Where credentials come from (default: Docker's config.json and its helpers). */
  credentials?: CredentialStore;
}

/** A blob on local disk to push: its digest and size are known (it was written content-addressed). */
export interface BlobFile {
  path: string;
  digest: string;
  size: number;
}

/** Progress of one blob: bytes done of the total. */
export type ProgressFn = (done: number, total: number) => void;

/** Options for pushing one blob. */
export interface PushBlobOptions {
  signal?: AbortSignal;
  /** Repositories of the same registry that may hold the blob already (tried as mounts). */
  mountFrom?: string[];
  /** Bytes per PATCH request (default 32 MiB). */
  chunkSize?: number;
  /** Remembers an unfinished upload so a later push continues it. */
  state?: UploadStateStore;
  onProgress?: ProgressFn;
}

/** What pushing a blob did. */
export interface PushBlobResult {
  /** `exists`: the repository had it; `mounted`: linked from another repository; `uploaded`: bytes sent. */
  how: 'exists' | 'mounted' | 'uploaded';
  /** Bytes of the blob sent in this call (0 unless uploaded). */
  bytesSent: number;
  /** Offset an earlier, interrupted upload was continued from (0 when it started afresh). */
  resumedFrom: number;
}

/** A manifest or index as fetched, with the exact bytes its digest covers. */
export interface FetchedManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  manifest?: ImageManifest;
  index?: ImageIndex;
}

const DEFAULT_CHUNK = 32 << 20;

/** An OCI distribution client bound to one registry host. */
export class RegistryClient {
  readonly registry: string;
  private readonly transport: Transport;
  private readonly auth: Authenticator;

  constructor(registry: string, host: string, opts: ClientOptions = {}) {
    this.registry = registry;
    this.transport = new Transport(registry, host, opts);
    this.auth = new Authenticator(
      this.transport,
      opts.credentials ?? new DockerConfigCredentials(),
    );
  }

  /** A client for the registry a reference names. */
  static for(ref: Reference, opts: ClientOptions = {}): RegistryClient {
    return new RegistryClient(ref.registry, ref.host, opts);
  }

  /** Checks that the registry answers the v2 API and that we may use it (login happens here). */
  async ping(signal?: AbortSignal): Promise<void> {
    const res = await this.call({ method: 'GET', path: '/v2/', scopes: [], signal });
    res.discard();
    if (res.status !== 200) throw await this.failure(res, 'GET /v2/');
  }

  // ---- blobs ---------------------------------------------------------------------------

  /** The size of a blob if the repository has it, else undefined. */
  async blobSize(repo: string, digest: string, signal?: AbortSignal): Promise<number | undefined> {
    checkDigest(digest);
    const res = await this.call({
      method: 'HEAD',
      path: `/v2/${repo}/blobs/${digest}`,
      scopes: [repositoryScope(repo, 'pull')],
      signal,
      followRedirects: true,
    });
    res.discard();
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw await this.failure(res, `HEAD blob ${digest}`);
    const len = Number(res.header('content-length'));
    return Number.isFinite(len) ? len : 0;
  }

  /**
   * Makes sure `repo` has the blob, sending only what is missing: nothing when it is there,
   * a mount when another repository has it, else a chunked upload that continues an earlier
   * interrupted one (from `state`) at the offset the registry confirms.
   */
  async pushBlob(
    repo: string,
    blob: BlobFile,
    opts: PushBlobOptions = {},
  ): Promise<PushBlobResult> {
    const { signal } = opts;
    checkDigest(blob.digest);
    const pushScopes = [repositoryScope(repo, 'pull,push')];
    if ((await this.blobSize(repo, blob.digest, signal)) !== undefined) {
      opts.onProgress?.(blob.size, blob.size);
      return { how: 'exists', bytesSent: 0, resumedFrom: 0 };
    }
    const key = uploadKey(this.registry, repo, blob.digest);
    let location: string | undefined;
    for (const from of opts.mountFrom ?? []) {
      if (from === repo) continue;
      const res = await this.call({
        method: 'POST',
        path: `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(from)}`,
        scopes: [...pushScopes, repositoryScope(from, 'pull')],
        headers: { 'Content-Length': '0' },
        signal,
      });
      res.discard();
      if (res.status === 201) {
        opts.onProgress?.(blob.size, blob.size);
        return { how: 'mounted', bytesSent: 0, resumedFrom: 0 };
      }
      // 202: the registry could not mount and opened an upload session instead.
      if (res.status === 202) {
        location = this.locationOf(res);
        break;
      }
      if (res.status !== 404) throw await this.failure(res, `mount ${blob.digest} from ${from}`);
    }
    let offset = 0;
    let resumedFrom = 0;
    if (!location && opts.state) {
      const saved = await opts.state.load(key);
      if (saved) {
        const confirmed = await this.uploadOffset(saved, pushScopes, signal);
        if (confirmed !== undefined && confirmed.offset <= blob.size) {
          location = confirmed.location;
          offset = confirmed.offset;
          resumedFrom = offset;
        } else await opts.state.clear(key);
      }
    }
    if (!location) {
      const started = await this.startUpload(repo, `start upload of ${blob.digest}`, signal);
      location = started.location;
      if (started.minChunk > (opts.chunkSize ?? DEFAULT_CHUNK))
        opts = { ...opts, chunkSize: started.minChunk };
    }
    await opts.state?.save(key, location);
    const chunk = Math.max(1, opts.chunkSize ?? DEFAULT_CHUNK);
    let bytesSent = 0;
    opts.onProgress?.(offset, blob.size);
    while (offset < blob.size) {
      const end = Math.min(offset + chunk, blob.size) - 1;
      const start = offset;
      const res = await this.call({
        method: 'PATCH',
        url: location,
        scopes: pushScopes,
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Length': String(end - start + 1),
          'Content-Range': `${start}-${end}`,
        },
        body: () => createReadStream(blob.path, { start, end, highWaterMark: 1 << 20 }),
        signal,
      });
      res.discard();
      if (res.status === 416) {
        // The registry holds a different amount than we thought: ask it, and go on from there.
        const confirmed = await this.uploadOffset(location, pushScopes, signal);
        if (!confirmed)
          throw await this.failure(res, `upload chunk ${start}-${end} of ${blob.digest}`);
        location = confirmed.location;
        offset = confirmed.offset;
        continue;
      }
      if (res.status !== 202)
        throw await this.failure(res, `upload chunk ${start}-${end} of ${blob.digest}`);
      location = this.locationOf(res);
      const range = parseRange(res.header('range'));
      offset = range ?? end + 1;
      bytesSent += end - start + 1;
      await opts.state?.save(key, location);
      opts.onProgress?.(offset, blob.size);
    }
    const done = new URL(location);
    done.searchParams.set('digest', blob.digest);
    const res = await this.call({
      method: 'PUT',
      url: done.href,
      scopes: pushScopes,
      headers: { 'Content-Length': '0', 'Content-Type': 'application/octet-stream' },
      signal,
    });
    res.discard();
    if (res.status !== 201) {
      await opts.state?.clear(key);
      throw await this.failure(res, `finish upload of ${blob.digest}`);
    }
    const stored = res.header('docker-content-digest');
    await opts.state?.clear(key);
    if (stored && stored !== blob.digest)
      throw new SystemError(
        'DigestMismatch',
        `${this.registry} stored ${blob.digest} as ${stored}`,
      );
    return { how: 'uploaded', bytesSent, resumedFrom };
  }

  /**
   * Uploads a blob while it is being written (a layer being compressed; `fd` open for
   * reading, closed here once done): a chunk is sent
   * whenever the writer is a chunk ahead, and the upload is finished, under the digest
   * `growing.done` gives, once the writer is done — one pass, compression and upload side by
   * side. Once the digest is known: a repository that has the blob already (another machine
   * pushed it) drops the upload; an unfinished upload of the same blob an earlier push left
   * (in `state`) that got further is continued instead; the session is remembered in `state`
   * until it is finished. Rejects with the writer's error if the writer fails.
   */
  async pushBlobFollowing(
    repo: string,
    growing: { fd: number; written(): number; done: Promise<BlobFile> },
    opts: PushBlobOptions = {},
  ): Promise<PushBlobResult & { blob: BlobFile }> {
    const { signal } = opts;
    const pushScopes = [repositoryScope(repo, 'pull,push')];
    // Set by the writer's promise (an object: TypeScript does not see closures assign).
    const writer: { final?: BlobFile; failed?: { err: unknown }; wake?: () => void } = {};
    void growing.done.then(
      (b) => {
        writer.final = b;
        writer.wake?.();
      },
      (err: unknown) => {
        writer.failed = { err };
        writer.wake?.();
      },
    );
    const started = await this.startUpload(repo, 'start an upload', signal);
    let location = started.location;
    const chunk = Math.max(1, opts.chunkSize ?? DEFAULT_CHUNK, started.minChunk);
    let offset = 0;
    let bytesSent = 0;
    let resumedFrom = 0;
    let key: string | undefined;
    try {
      for (;;) {
        if (signal?.aborted) throw new CancelledError('upload cancelled');
        if (writer.failed) throw writer.failed.err;
        const final = writer.final;
        if (final && key === undefined) {
          const blob: BlobFile = final;
          if ((await this.blobSize(repo, blob.digest, signal)) !== undefined) {
            await this.dropUpload(location, pushScopes, signal);
            opts.onProgress?.(blob.size, blob.size);
            return { how: 'exists', bytesSent, resumedFrom: 0, blob };
          }
          key = uploadKey(this.registry, repo, blob.digest);
          const saved = await opts.state?.load(key);
          if (saved && saved !== location) {
            const confirmed = await this.uploadOffset(saved, pushScopes, signal);
            if (confirmed && confirmed.offset > offset && confirmed.offset <= blob.size) {
              await this.dropUpload(location, pushScopes, signal);
              location = confirmed.location;
              offset = confirmed.offset;
              resumedFrom = offset;
            }
          }
          await opts.state?.save(key, location);
        }
        const available = final ? final.size : growing.written();
        if (final ? offset >= final.size : available - offset < chunk) {
          if (final) break;
          // Woken when the writer finishes, else every 100 ms to look at its progress.
          await new Promise<void>((r) => {
            writer.wake = r;
            setTimeout(r, 100);
          });
          continue;
        }
        const start = offset;
        const end = Math.min(offset + chunk, available) - 1;
        const r = await this.call({
          method: 'PATCH',
          url: location,
          scopes: pushScopes,
          headers: {
            'Content-Type': 'application/octet-stream',
            'Content-Length': String(end - start + 1),
            'Content-Range': `${start}-${end}`,
          },
          body: () =>
            createReadStream('', {
              fd: growing.fd,
              start,
              end,
              autoClose: false,
              highWaterMark: 1 << 20,
            }),
          signal,
        });
        r.discard();
        if (r.status === 416) {
          const confirmed = await this.uploadOffset(location, pushScopes, signal);
          if (!confirmed) throw await this.failure(r, `upload chunk ${start}-${end}`);
          location = confirmed.location;
          offset = confirmed.offset;
          continue;
        }
        if (r.status !== 202) throw await this.failure(r, `upload chunk ${start}-${end}`);
        location = this.locationOf(r);
        offset = parseRange(r.header('range')) ?? end + 1;
        bytesSent += end - start + 1;
        if (key) await opts.state?.save(key, location);
        opts.onProgress?.(offset, final?.size ?? available);
      }
    } finally {
      closeSync(growing.fd);
    }
    const blob: BlobFile = writer.final!;
    const done = new URL(location);
    done.searchParams.set('digest', blob.digest);
    const put = await this.call({
      method: 'PUT',
      url: done.href,
      scopes: pushScopes,
      headers: { 'Content-Length': '0', 'Content-Type': 'application/octet-stream' },
      signal,
    });
    put.discard();
    await opts.state?.clear(key!);
    if (put.status !== 201) throw await this.failure(put, `finish upload of ${blob.digest}`);
    const stored = put.header('docker-content-digest');
    if (stored && stored !== blob.digest)
      throw new SystemError(
        'DigestMismatch',
        `${this.registry} stored ${blob.digest} as ${stored}`,
      );
    return { how: 'uploaded', bytesSent, resumedFrom, blob };
  }

  /**
   * Links a blob another repository of this registry has into `repo` (cross-repository
   * mount), trying each of `from` in turn; false when none could (nothing is sent).
   */
  async mountBlob(
    repo: string,
    digest: string,
    from: readonly string[],
    signal?: AbortSignal,
  ): Promise<boolean> {
    checkDigest(digest);
    const pushScopes = [repositoryScope(repo, 'pull,push')];
    for (const source of from) {
      if (source === repo) continue;
      const res = await this.call({
        method: 'POST',
        path: `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(source)}`,
        scopes: [...pushScopes, repositoryScope(source, 'pull')],
        headers: { 'Content-Length': '0' },
        signal,
      });
      res.discard();
      if (res.status === 201) return true;
      // 202: the registry could not mount and opened an upload session instead.
      if (res.status === 202) await this.dropUpload(this.locationOf(res), pushScopes, signal);
      else if (res.status !== 404) throw await this.failure(res, `mount ${digest} from ${source}`);
    }
    return false;
  }

  /** Cancels an upload session (best effort: an abandoned one expires on the registry). */
  /** Opens an upload session: its location, and the smallest chunk the registry takes (0: any). */
  private async startUpload(
    repo: string,
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<{ location: string; minChunk: number }> {
    const res = await this.call({
      method: 'POST',
      path: `/v2/${repo}/blobs/uploads/`,
      scopes: [repositoryScope(repo, 'pull,push')],
      headers: { 'Content-Length': '0' },
      signal,
    });
    res.discard();
    if (res.status !== 202) throw await this.failure(res, what);
    const min = Number(res.header('oci-chunk-min-length'));
    return { location: this.locationOf(res), minChunk: Number.isFinite(min) ? min : 0 };
  }

  private async dropUpload(
    location: string,
    scopes: string[],
    signal?: AbortSignal,
  ): Promise<void> {
    try {
      const r = await this.call({ method: 'DELETE', url: location, scopes, signal });
      r.discard();
    } catch (err) {
      if (signal?.aborted) throw err;
    }
  }

  /** The offset an upload session has reached (`Range: 0-N` means N+1 bytes), or undefined when it is gone. */
  private async uploadOffset(
    location: string,
    scopes: string[],
    signal?: AbortSignal,
  ): Promise<{ location: string; offset: number } | undefined> {
    const res = await this.call({ method: 'GET', url: location, scopes, signal });
    res.discard();
    if (res.status !== 204 && res.status !== 200) return undefined;
    return {
      location: this.locationOf(res, location),
      offset: parseRange(res.header('range')) ?? 0,
    };
  }

  /**
   * Downloads a blob to `dest`, verifying size and digest while it streams into `dest.part`;
   * renamed into place only once verified. On a mismatch, an error or an abort nothing is left.
   */
  async pullBlob(
    repo: string,
    blob: Pick<Descriptor, 'digest' | 'size'>,
    dest: string,
    opts: { signal?: AbortSignal; onProgress?: ProgressFn; mode?: number } = {},
  ): Promise<void> {
    const part = `${dest}.part`;
    await this.streamBlob(
      repo,
      blob,
      async (body, verified) => {
        try {
          await pipeline(body, createWriteStream(part, { mode: opts.mode ?? 0o644 }), {
            signal: opts.signal,
          });
          verified();
          await rename(part, dest);
        } catch (err) {
          await rm(part, { force: true });
          throw err;
        }
      },
      { ...opts, where: dirname(dest) },
    );
  }

  /**
   * Streams a blob to `consume`, counting and hashing it on the way: reading past its size
   * fails the stream, and `verified()` — which `consume` must call once it has read the
   * stream and before it keeps anything made from it — throws unless size and digest match;
   * `received()` is the byte count so far. One pass from the network to whatever `consume`
   * makes (e.g. a decompressed file).
   */
  async streamBlob(
    repo: string,
    blob: Pick<Descriptor, 'digest' | 'size'>,
    consume: (body: Readable, verified: () => void, received: () => number) => Promise<void>,
    opts: { signal?: AbortSignal; onProgress?: ProgressFn; where?: string } = {},
  ): Promise<void> {
    const { signal } = opts;
    checkDigest(blob.digest);
    const res = await this.call({
      method: 'GET',
      path: `/v2/${repo}/blobs/${blob.digest}`,
      scopes: [repositoryScope(repo, 'pull')],
      signal,
      followRedirects: true,
    });
    if (res.status === 404) {
      res.discard();
      throw new UserError('BlobUnknown', `${this.registry}/${repo} has no blob ${blob.digest}`, {
        hint: 'the manifest names a blob the registry lost or never received: push the image again',
      });
    }
    if (res.status !== 200) {
      res.discard();
      throw await this.failure(res, `GET blob ${blob.digest}`);
    }
    const hash = createHash('sha256');
    let n = 0;
    let lastReport = 0;
    const verify = new Transform({
      highWaterMark: 1 << 20,
      transform(chunk: Buffer, _enc, cb) {
        n += chunk.length;
        if (n > blob.size) {
          cb(tooLong(blob.digest, blob.size));
          return;
        }
        hash.update(chunk);
        if (opts.onProgress && (n - lastReport >= 1 << 20 || n === blob.size)) {
          lastReport = n;
          opts.onProgress(n, blob.size);
        }
        cb(null, chunk);
      },
    });
    const verified = (): void => {
      if (n !== blob.size)
        throw new SystemError(
          'DigestMismatch',
          `blob ${blob.digest} ended after ${n} of ${blob.size} bytes`,
          {
            hint: 'the download was cut short: try again',
          },
        );
      const got = `sha256:${hash.digest('hex')}`;
      if (got !== blob.digest)
        throw new SystemError(
          'DigestMismatch',
          `blob ${blob.digest} from ${this.registry}/${repo} does not match its digest`,
          {
            details: [`expected ${blob.digest}`, `received ${got}`],
            hint: 'the registry served corrupt content: nothing was kept; repair or re-push the blob',
          },
        );
    };
    try {
      // Errors of the response reach whoever reads `verify`.
      const body = pipelineCb(res.body, verify, () => undefined);
      await consume(body, verified, () => n);
    } catch (err) {
      res.body.destroy();
      if (signal?.aborted) throw new CancelledError(`download of ${blob.digest} cancelled`);
      if (isDiskFull(err))
        throw diskFullError(err, `blob ${blob.digest}`, opts.where ?? 'the kiln home');
      if (err instanceof KilnError) throw err;
      throw new SystemError(
        'RegistryUnreachable',
        `download of ${blob.digest} from ${this.registry} failed: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  // ---- manifests -------------------------------------------------------------------------

  /** Fetches a manifest or index by tag or digest; its bytes are checked against the digest asked for (or announced). */
  async getManifest(
    repo: string,
    reference: string,
    signal?: AbortSignal,
  ): Promise<FetchedManifest> {
    const res = await this.call({
      method: 'GET',
      path: `/v2/${repo}/manifests/${reference}`,
      scopes: [repositoryScope(repo, 'pull')],
      headers: { Accept: MANIFEST_ACCEPT.join(', ') },
      signal,
      followRedirects: true,
    });
    if (res.status === 404) {
      const err = await this.failure(res, `GET manifest ${reference}`);
      throw new UserError(
        'ManifestUnknown',
        `${this.registry}/${repo}:${reference} does not exist`,
        {
          cause: err,
          hint: `list the repository's tags, or push it first (${err.message})`,
        },
      );
    }
    if (res.status !== 200) throw await this.failure(res, `GET manifest ${reference}`);
    const bytes = await res.bytes(4 << 20);
    const digest = digestOf(bytes);
    const expected = reference.startsWith('sha256:')
      ? reference
      : res.header('docker-content-digest');
    if (expected && expected !== digest)
      throw new SystemError(
        'DigestMismatch',
        `manifest ${repo}:${reference} from ${this.registry} does not match its digest`,
        {
          details: [`expected ${expected}`, `received ${digest}`],
        },
      );
    let doc: { mediaType?: string };
    try {
      doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: string };
    } catch {
      throw new SystemError('ManifestInvalid', `manifest ${repo}:${reference} is not JSON`);
    }
    const mediaType =
      doc.mediaType ?? res.header('content-type')?.split(';')[0]?.trim() ?? MediaType.imageManifest;
    const out: FetchedManifest = { digest, mediaType, bytes };
    const parsed =
      isIndexMediaType(mediaType) || 'manifests' in doc
        ? imageIndexSchema.safeParse(doc)
        : imageManifestSchema.safeParse(doc);
    if (!parsed.success)
      throw new SystemError(
        'ManifestInvalid',
        `manifest ${repo}:${reference} is not a valid OCI document`,
        {
          details: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
        },
      );
    if ('manifests' in parsed.data) out.index = parsed.data as ImageIndex;
    else out.manifest = parsed.data as ImageManifest;
    return out;
  }

  /** The descriptor of a manifest by tag or digest, or undefined when it does not exist (a cache look-up). */
  async headManifest(
    repo: string,
    reference: string,
    signal?: AbortSignal,
  ): Promise<Descriptor | undefined> {
    const res = await this.call({
      method: 'HEAD',
      path: `/v2/${repo}/manifests/${reference}`,
      scopes: [repositoryScope(repo, 'pull')],
      headers: { Accept: MANIFEST_ACCEPT.join(', ') },
      signal,
      followRedirects: true,
    });
    res.discard();
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw await this.failure(res, `HEAD manifest ${reference}`);
    const digest = res.header('docker-content-digest');
    // Without the header the only way to know the digest is the body itself.
    if (!digest) {
      const m = await this.getManifest(repo, reference, signal);
      return { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
    }
    return {
      mediaType: res.header('content-type')?.split(';')[0]?.trim() ?? MediaType.imageManifest,
      digest,
      size: Number(res.header('content-length') ?? 0),
    };
  }

  /** Stores a manifest under a tag or its digest; returns its digest and whether the registry indexed its `subject`. */
  async putManifest(
    repo: string,
    reference: string,
    bytes: Buffer,
    mediaType: string,
    signal?: AbortSignal,
  ): Promise<{ digest: string; subjectIndexed: boolean }> {
    const digest = digestOf(bytes);
    if (reference.startsWith('sha256:') && reference !== digest)
      throw new KilnError(
        'ManifestDigest',
        `putManifest: ${reference} is not the digest of the bytes (${digest})`,
      );
    const res = await this.call({
      method: 'PUT',
      path: `/v2/${repo}/manifests/${reference}`,
      scopes: [repositoryScope(repo, 'pull,push')],
      headers: { 'Content-Type': mediaType, 'Content-Length': String(bytes.length) },
      body: () => bytes,
      signal,
    });
    res.discard();
    if (res.status !== 201) throw await this.failure(res, `PUT manifest ${reference}`);
    const stored = res.header('docker-content-digest');
    if (stored && stored !== digest)
      throw new SystemError(
        'DigestMismatch',
        `${this.registry} stored manifest ${digest} as ${stored}`,
      );
    return { digest, subjectIndexed: res.header('oci-subject') !== undefined };
  }

  /** The repository's tags (following `Link` pagination). */
  async listTags(repo: string, signal?: AbortSignal): Promise<string[]> {
    const tags: string[] = [];
    let path: string | undefined = `/v2/${repo}/tags/list?n=1000`;
    while (path) {
      const res = await this.call({
        method: 'GET',
        path,
        scopes: [repositoryScope(repo, 'pull')],
        signal,
      });
      if (res.status === 404) {
        res.discard();
        return [];
      }
      if (res.status !== 200) throw await this.failure(res, 'list tags');
      const body = JSON.parse(await res.text()) as { tags?: string[] | null };
      tags.push(...(body.tags ?? []));
      const next = res.header('link')?.match(/<([^>]+)>\s*;\s*rel="?next"?/)?.[1];
      path = next
        ? new URL(next, 'http://x').pathname + new URL(next, 'http://x').search
        : undefined;
    }
    return tags;
  }

  // ---- referrers ---------------------------------------------------------------------------

  /**
   * Manifests whose `subject` is `digest` (optionally of one `artifactType`): the referrers
   * API where the registry has it, else the `sha256-<hex>` tag index of the fallback schema.
   */
  async referrers(
    repo: string,
    digest: string,
    artifactType?: string,
    signal?: AbortSignal,
  ): Promise<Descriptor[]> {
    checkDigest(digest);
    const q = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
    const res = await this.call({
      method: 'GET',
      path: `/v2/${repo}/referrers/${digest}${q}`,
      scopes: [repositoryScope(repo, 'pull')],
      headers: { Accept: MediaType.imageIndex },
      signal,
    });
    let list: Descriptor[];
    if (res.status === 200) {
      const parsed = imageIndexSchema.safeParse(JSON.parse(await res.text()));
      if (!parsed.success)
        throw new SystemError(
          'ManifestInvalid',
          `${this.registry} answered the referrers API with an invalid index`,
        );
      list = parsed.data.manifests;
    } else if (res.status === 404) {
      res.discard();
      list = (await this.fallbackIndex(repo, digest, signal))?.manifests ?? [];
    } else throw await this.failure(res, `referrers of ${digest}`);
    return artifactType ? list.filter((d) => d.artifactType === artifactType) : list;
  }

  /**
   * Pushes a manifest that has a `subject` (by its digest) and, when the registry does not
   * index subjects itself (no `OCI-Subject` header), adds it to the fallback tag index.
   */
  async pushReferrer(
    repo: string,
    bytes: Buffer,
    manifest: ImageManifest,
    signal?: AbortSignal,
  ): Promise<Descriptor> {
    if (!manifest.subject)
      throw new KilnError('NoSubject', 'pushReferrer: the manifest has no subject');
    const mediaType = manifest.mediaType ?? MediaType.imageManifest;
    const { digest, subjectIndexed } = await this.putManifest(
      repo,
      digestOf(bytes),
      bytes,
      mediaType,
      signal,
    );
    const desc: Descriptor = { mediaType, digest, size: bytes.length };
    const artifactType = manifest.artifactType ?? manifest.config.mediaType;
    if (artifactType) desc.artifactType = artifactType;
    if (manifest.annotations) desc.annotations = manifest.annotations;
    if (subjectIndexed) return desc;
    const subject = manifest.subject.digest;
    const current = await this.fallbackIndex(repo, subject, signal);
    const manifests = (current?.manifests ?? []).filter((d) => d.digest !== digest);
    manifests.push(desc);
    const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.imageIndex, manifests };
    await this.putManifest(
      repo,
      fallbackTag(subject),
      encodeJson(index),
      MediaType.imageIndex,
      signal,
    );
    return desc;
  }

  private async fallbackIndex(
    repo: string,
    subject: string,
    signal?: AbortSignal,
  ): Promise<ImageIndex | undefined> {
    try {
      return (await this.getManifest(repo, fallbackTag(subject), signal)).index;
    } catch (err) {
      if (err instanceof UserError && err.code === 'ManifestUnknown') return undefined;
      throw err;
    }
  }

  /** Closes idle connections. */
  close(): void {
    this.transport.close();
  }

  // ---- plumbing ------------------------------------------------------------------------------

  /** Sends a request with the authorization `scopes` need, answering one auth challenge. */
  private async call(req: {
    method: string;
    path?: string;
    url?: string;
    scopes: string[];
    headers?: Record<string, string>;
    body?: () => import('node:stream').Readable | Buffer;
    signal?: AbortSignal;
    followRedirects?: boolean;
  }): Promise<HttpResponse> {
    const url = new URL(req.url ?? req.path ?? '/', await this.transport.base(req.signal));
    for (let attempt = 0; ; attempt++) {
      const authorization = await this.auth.header(req.scopes, req.signal);
      const res = await this.transport.request({
        method: req.method,
        url,
        headers: { ...req.headers, ...(authorization ? { Authorization: authorization } : {}) },
        body: req.body,
        signal: req.signal,
        followRedirects: req.followRedirects,
      });
      if (res.status !== 401) return res;
      const challenge = res.header('www-authenticate');
      res.discard();
      if (attempt === 0 && (await this.auth.challenge(challenge, req.scopes, req.signal))) continue;
      throw authRefused(
        this.registry,
        await this.auth.credentialSource(req.signal),
        `${req.method} ${url.pathname} answered 401`,
      );
    }
  }

  private locationOf(res: HttpResponse, fallback?: string): string {
    const loc = res.header('location');
    if (!loc) {
      if (fallback) return fallback;
      throw new SystemError(
        'RegistryError',
        `${this.registry} opened an upload without a Location`,
      );
    }
    return new URL(loc, res.url).href;
  }

  /** A registry error, with the spec's error codes from the body when it sent them. */
  private async failure(res: HttpResponse, what: string): Promise<KilnError> {
    let codes = '';
    try {
      const text = await res.text(64 << 10);
      const body = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
      codes = (body.errors ?? [])
        .map((e) => `${e.code}${e.message ? `: ${e.message}` : ''}`)
        .join('; ');
    } catch {
      // No JSON error body.
    }
    if (res.status === 403)
      return new UserError(
        'RegistryDenied',
        `${this.registry} denied ${what}${codes ? ` (${codes})` : ''}`,
        {
          hint: 'the credentials in use lack permission for this repository',
        },
      );
    return new SystemError(
      'RegistryError',
      `${this.registry}: ${what} failed with HTTP ${res.status}${codes ? ` (${codes})` : ''}`,
    );
  }
}

/** The fallback tag of the referrers tag schema: `sha256-<hex>`. */
export function fallbackTag(digest: string): string {
  return digest.replace(':', '-');
}

/** `0-N` → N+1 (the byte count an upload holds); undefined without a usable header. */
function parseRange(header: string | undefined): number | undefined {
  const m = header?.match(/^(?:bytes=)?0-(\d+)$/);
  return m ? Number(m[1]) + 1 : undefined;
}

function tooLong(digest: string, size: number): SystemError {
  return new SystemError('DigestMismatch', `blob ${digest} is longer than its ${size} bytes`, {
    hint: 'the registry served different content than the manifest names: nothing was kept',
  });
}

/** The size of a local file (for building a BlobFile). */
export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}

export type { Credentials };
