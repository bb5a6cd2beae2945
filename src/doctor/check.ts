/** One finding of `kiln doctor`. */
export interface DoctorCheck {
  /** What was checked: a tool's name, `accelerator`, `catalog`, … */
  name: string;
  /** `fail` makes `kiln doctor` exit 1; `warn` is something to know, not a blocker. */
  status: 'ok' | 'warn' | 'fail';
  /** What was found: a version, a size, or what is wrong and what needs it. */
  detail: string;
  /** The command that fixes it (only for `warn` and `fail`). */
  fix?: string;
}
