/**
 * Running local instances of catalogued images (`kiln run/ps/stop/logs`) and rolling
 * them (`kiln deploy local`). The library never prints: progress goes through a BuildUi.
 */

export { type DeployLocalOptions, type DeployLocalResult, deployLocal } from './deploy-local.js';
export {
  type FailedRollout,
  isFailedRollout,
  type Member,
  type RollingDriver,
  RolloutError,
  type RolloutResult,
  rollOut,
  rollOutWithRollback,
} from './rolling.js';
export {
  journalCommand,
  opensshArgs,
  type SshTarget,
  sshTarget,
  type WaitSshOptions,
  waitInstanceSsh,
} from './ssh.js';
export { type PortSpec, type StartInstanceOptions, startInstance } from './start-instance.js';
export {
  consoleTail,
  type InstanceStatus,
  instanceStatus,
  instancesDir,
  type LocalInstanceMeta,
  listInstanceStatuses,
  metaOf,
  resolveInstance,
  whyNotRunning,
} from './status.js';
export { type StopInstanceOptions, stopInstance } from './stop-instance.js';
export { type HttpAnswer, type WaitHttpOptions, waitHttp } from './wait-http.js';
