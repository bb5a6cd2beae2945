/**
 * Telling a broken install from a bug: a package or a native module that does not load
 * (node_modules being rebuilt, a binding built for another Node.js) is the machine's state,
 * and the user can fix it; kiln's code is not at fault.
 */

/** Node's codes for a module that cannot be found or loaded. */
const INSTALL_CODES = new Set(['MODULE_NOT_FOUND', 'ERR_MODULE_NOT_FOUND', 'ERR_DLOPEN_FAILED']);

/** What `bindings` and Node say when a native module is missing or built for another Node.js. */
const INSTALL_MESSAGES = [/Could not locate the bindings file/, /NODE_MODULE_VERSION/];

/**
 * The first line of the error's message when `err` says a module is missing or cannot be
 * loaded (an install problem); undefined for any other error.
 */
export function brokenInstallCause(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as NodeJS.ErrnoException).code;
  const install =
    (code !== undefined && INSTALL_CODES.has(code)) ||
    INSTALL_MESSAGES.some((re) => re.test(err.message));
  // `bindings` goes on with a list of the paths it tried: the first line says enough.
  return install
    ? err.message
        .split('\n')[0]!
        .replace(/\s*Tried:$/, '')
        .trim()
    : undefined;
}
