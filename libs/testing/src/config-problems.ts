import { ConfigError } from '@vaxguard/config';

/**
 * Every problem a configuration reader found in an environment (`[]` when it took it),
 * for the config tests of each service; anything but a ConfigError is thrown on.
 */
export function configProblems(
  read: (environment: Record<string, string>) => unknown,
  environment: Record<string, string>,
): readonly string[] {
  try {
    read(environment);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}
