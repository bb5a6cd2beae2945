/** amazon-ebs's prepare: the config rules, the files it names, and warnings; no AWS call. */
import { existsSync, statSync } from 'node:fs';
import type { PrepareResult } from '../../core/plugin.js';
import { type AmazonEbsConfig, checkConfig, configWarnings } from './config.js';

/** Every problem of an amazon-ebs config at once (rules, unsupported fields, missing files), and its warnings. */
export function prepareAmazonEbs(config: AmazonEbsConfig): PrepareResult {
  const errors = checkConfig(config);
  for (const key of ['user_data_file', 'ssh_private_key_file'] as const) {
    const path = config[key];
    if (path && !(existsSync(path) && statSync(path).isFile()))
      errors.push({ key, message: `no file at ${path}` });
  }
  return { warnings: configWarnings(config), errors };
}
