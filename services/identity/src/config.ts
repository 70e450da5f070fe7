import { loadConfig } from '@vaxguard/config';
import { runtimeConfigSchema } from '@vaxguard/runtime';

export const DEFAULT_PORT = 50051;

/** The identity service's configuration, read once from the environment. */
export function readConfig(environment = process.env) {
  return loadConfig(environment, runtimeConfigSchema(DEFAULT_PORT));
}

export type Config = ReturnType<typeof readConfig>;
