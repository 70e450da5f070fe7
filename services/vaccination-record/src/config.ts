import { loadConfig, type Environment } from '@vaxguard/config';
import {
  peerConfigSchema,
  readMigrateConfig as readMigrate,
  runtimeConfigSchema,
} from '@vaxguard/runtime';

export const DEFAULT_PORT = 50053;

/** The vaccination-record service's configuration, read once from the environment; every problem reported together. */
export function readConfig(environment: Environment = process.env) {
  return loadConfig(environment, { ...runtimeConfigSchema(DEFAULT_PORT), ...peerConfigSchema() });
}

export type Config = ReturnType<typeof readConfig>;

/** What `nx run vaccination-record:migrate` reads: DATABASE_URL (and LOG_LEVEL), nothing else. */
export function readMigrateConfig(environment: Environment = process.env) {
  return readMigrate(environment);
}
