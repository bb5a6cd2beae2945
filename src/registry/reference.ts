/**
 * Image references as a user writes them: `host[:port]/repo[:tag|@sha256:…]`. kiln has no
 * default registry (a bare `repo:tag` would silently mean Docker Hub), so the host is
 * required, and a reference says where it points before anything is sent.
 */
import { UserError } from '../lib/errors.js';

/** A parsed reference; `tag` and `digest` may both be set (the digest wins when pulling). */
export interface Reference {
  /** `host` or `host:port`, as used in URLs and as the key of Docker's `auths`. */
  registry: string;
  /** The host name alone (brackets kept for an IPv6 literal). */
  host: string;
  repository: string;
  tag?: string;
  digest?: string;
}

// The distribution spec's grammar (docker/distribution reference/regexp.go).
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

const EXAMPLE = 'registry.example.com/team/app:1.0 or 127.0.0.1:5000/app@sha256:…';

function bad(text: string, why: string): UserError {
  return new UserError('BadReference', `invalid image reference "${text}": ${why}`, {
    hint: `write it as host[:port]/repository[:tag|@sha256:digest], e.g. ${EXAMPLE}`,
  });
}

/** Parses `host[:port]/repo[:tag][@sha256:…]`; throws a UserError saying what is wrong. */
export function parseReference(text: string): Reference {
  const s = text.trim();
  if (s === '') throw bad(text, 'it is empty');
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest))
      throw bad(text, `"${digest}" is not a sha256 digest (sha256: and 64 lowercase hex digits)`);
  }
  const slash = rest.indexOf('/');
  if (slash < 0) throw bad(text, 'no registry host (kiln has no default registry)');
  const registry = rest.slice(0, slash);
  if (!looksLikeHost(registry))
    throw bad(
      text,
      `"${registry}" is not a registry host (a host has a dot or a port, or is localhost)`,
    );
  let path = rest.slice(slash + 1);
  let tag: string | undefined;
  const colon = path.lastIndexOf(':');
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!TAG.test(tag))
      throw bad(text, `"${tag}" is not a valid tag (letters, digits, _ . -; at most 128)`);
  }
  if (path === '') throw bad(text, 'the repository is empty');
  for (const part of path.split('/')) {
    if (!COMPONENT.test(part))
      throw bad(
        text,
        `"${part}" is not a valid repository component (lowercase letters, digits, and . _ - between them)`,
      );
  }
  if (path.length > 255) throw bad(text, 'the repository name is longer than 255 characters');
  const port = registry.match(/:(\d+)$/)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535))
    throw bad(text, `port ${port} is out of range`);
  const host = port === undefined ? registry : registry.slice(0, -port.length - 1);
  const ref: Reference = { registry, host, repository: path };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

function looksLikeHost(s: string): boolean {
  if (!HOST.test(s)) return false;
  return s.includes('.') || s.includes(':') || s.startsWith('[') || s === 'localhost';
}

/** The tag or digest to ask the registry for: the digest when there is one, else the tag, else `latest`. */
export function referenceTarget(ref: Reference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/** Formats a reference back to text (`host/repo:tag@digest`). */
export function formatReference(ref: Reference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** Whether a host is this machine (localhost, 127.0.0.0/8, ::1): the only hosts plain HTTP is allowed to without the insecure flag. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** Checks a digest's form (`sha256:` + 64 hex); throws a UserError naming `what` otherwise. */
export function checkDigest(digest: string, what = 'digest'): string {
  if (!DIGEST.test(digest))
    throw new UserError('BadDigest', `${what} "${digest}" is not a sha256 digest`, {
      hint: 'a digest is sha256: followed by 64 lowercase hex digits',
    });
  return digest;
}
