/** The OCI distribution client: what other layers import from `registry/`. */
export {
  type Challenge,
  type CredentialStore,
  type Credentials,
  DockerConfigCredentials,
  parseChallenges,
  StaticCredentials,
} from './auth.js';
export {
  type BlobFile,
  type ClientOptions,
  type FetchedManifest,
  fallbackTag,
  type PushBlobOptions,
  type PushBlobResult,
  RegistryClient,
} from './client.js';
export { type CompressedBlob, compressLayer, decompressLayer } from './compress.js';
export * from './manifest.js';
export * from './mapping.js';
export * from './reference.js';
export { FileUploadState, type UploadStateStore, uploadKey } from './upload-state.js';
