/**
 * Commands are declared up front (so `--help`, completion and commander's argument checks see
 * every one of them), but a command's body is loaded only when that command runs: its file in
 * `actions/` is imported on use. `kiln --version` then loads no command's code, and
 * `kiln validate` none of what `kiln build` or `kiln deploy aws` needs (execa, ssh2, the SQLite
 * binding, the workflows). Every command's action goes through this one helper.
 */

/** Something commander can call as an action (a `withContext(...)` function). */
type Action = (...args: never[]) => unknown;

/**
 * The action `name` of the module `load` imports, loaded when commander calls it:
 * `.action(lazyAction(() => import('../actions/build.js'), 'build'))`.
 */
export function lazyAction<K extends string, M extends { [k in K]: Action }>(
  load: () => Promise<M>,
  name: K,
): (...args: unknown[]) => Promise<void> {
  return async (...args) => {
    const action = (await load())[name] as unknown as (...args: unknown[]) => unknown;
    await action(...args);
  };
}
