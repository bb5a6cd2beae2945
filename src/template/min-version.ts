/** `min_packer_version`: kiln claims compatibility with Packer 1.6.6 and rejects templates that need newer. */
import { UserError } from '../lib/errors.js';
import { PACKER_COMPAT_VERSION } from './interpolate.js';

interface Version {
  segments: number[];
  pre: string;
}

// hashicorp/go-version's accepted forms: 1, 1.2, v1.2.3, 1.2.3-beta1, 1.2.3+meta.
const VERSION_RE =
  /^v?([0-9]+(?:\.[0-9]+)*?)(?:-([0-9A-Za-z\-~]+(?:\.[0-9A-Za-z\-~]+)*))?(?:\+[0-9A-Za-z\-~]+(?:\.[0-9A-Za-z\-~]+)*)?$/;

function parseVersion(text: string): Version | undefined {
  const m = VERSION_RE.exec(text.trim());
  if (!m) return undefined;
  const segments = m[1]!.split('.').map(Number);
  while (segments.length < 3) segments.push(0);
  return { segments, pre: m[2] ?? '' };
}

function compare(a: Version, b: Version): number {
  for (let i = 0; i < Math.max(a.segments.length, b.segments.length); i++) {
    const d = (a.segments[i] ?? 0) - (b.segments[i] ?? 0);
    if (d !== 0) return d;
  }
  if (a.pre === b.pre) return 0;
  if (a.pre === '') return 1;
  if (b.pre === '') return -1;
  return a.pre < b.pre ? -1 : 1;
}

/** Throws a UserError like Packer's when the template needs a newer Packer than kiln is compatible with. */
export function checkMinPackerVersion(min: string | undefined, where: string): void {
  if (!min) return;
  const want = parseVersion(min);
  if (!want) {
    throw new UserError('TemplateInvalid', `min_version is invalid: Malformed version: ${min}`, {
      where,
      hint: 'Write a version such as "1.6.0".',
    });
  }
  if (compare(parseVersion(PACKER_COMPAT_VERSION)!, want) < 0) {
    throw new UserError(
      'TemplateTooNew',
      `This template requires Packer version ${min.replace(/^v/, '')} or higher; using ${PACKER_COMPAT_VERSION}`,
      { where, hint: `kiln is compatible with Packer ${PACKER_COMPAT_VERSION} templates.` },
    );
  }
}
