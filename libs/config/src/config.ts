/**
 * Typed configuration read from the environment once, at start-up. Every variable is
 * checked and every problem is reported together, so an operator fixes a deployment in
 * one pass. Values of secrets never appear in messages.
 */

export type Environment = Readonly<Record<string, string | undefined>>;

export interface Field<T> {
  readonly variable: string;
  readonly description: string;
  /** Returns the value, or throws an Error whose message says what is wrong. */
  parse(raw: string | undefined): T;
}

interface FieldOptions<T> {
  readonly default?: T;
  readonly description?: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

type Schema = Record<string, Field<unknown>>;
export type ConfigOf<S extends Schema> = { readonly [K in keyof S]: ReturnType<S[K]['parse']> };

export function loadConfig<S extends Schema>(environment: Environment, schema: S): ConfigOf<S> {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema)) {
    try {
      values[key] = field.parse(environment[field.variable]);
    } catch (error) {
      problems.push(`${field.variable}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return values as ConfigOf<S>;
}

function field<T>(
  variable: string,
  options: FieldOptions<T>,
  convert: (raw: string) => T,
): Field<T> {
  return {
    variable,
    description: options.description ?? '',
    parse(raw) {
      const trimmed = raw?.trim();
      if (trimmed === undefined || trimmed === '') {
        if (options.default !== undefined) return options.default;
        throw new Error('is required');
      }
      return convert(trimmed);
    },
  };
}

function optional<T>(inner: Field<T>): Field<T | undefined> {
  return {
    ...inner,
    parse: (raw) => (raw === undefined || raw.trim() === '' ? undefined : inner.parse(raw)),
  };
}

function integer(
  variable: string,
  options: FieldOptions<number> & { min?: number; max?: number } = {},
): Field<number> {
  return field(variable, options, (raw) => {
    if (!/^-?\d+$/.test(raw)) throw new Error('must be an integer');
    const value = Number(raw);
    if (options.min !== undefined && value < options.min)
      throw new Error(`must be at least ${options.min}`);
    if (options.max !== undefined && value > options.max)
      throw new Error(`must be at most ${options.max}`);
    return value;
  });
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export const env = {
  string: (variable: string, options: FieldOptions<string> = {}) =>
    field(variable, options, (raw) => raw),

  integer,

  port: (variable: string, options: FieldOptions<number> = {}) =>
    integer(variable, { ...options, min: 0, max: 65_535 }),

  boolean: (variable: string, options: FieldOptions<boolean> = {}) =>
    field(variable, options, (raw) => {
      if (/^(true|1|yes)$/i.test(raw)) return true;
      if (/^(false|0|no)$/i.test(raw)) return false;
      throw new Error('must be true or false');
    }),

  /** A duration such as `500ms`, `30s`, `15m` or `24h`; returned in milliseconds. */
  duration: (variable: string, options: FieldOptions<number> = {}) =>
    field(variable, options, (raw) => {
      const match = /^(\d+)(ms|s|m|h)$/.exec(raw);
      if (!match) throw new Error('must be a duration such as 500ms, 30s, 15m or 24h');
      return Number(match[1]) * (DURATION_UNITS[match[2] as string] as number);
    }),

  oneOf: <T extends string>(
    variable: string,
    allowed: readonly T[],
    options: FieldOptions<T> = {},
  ): Field<T> =>
    field(variable, options, (raw) => {
      if (!(allowed as readonly string[]).includes(raw))
        throw new Error(`must be one of ${allowed.join(', ')}`);
      return raw as T;
    }),

  /**
   * A PostgreSQL connection URL; libpq's form with several hosts (a primary and its
   * standby: postgres://user:password@h1:5432,h2:5432/database) is checked host by host.
   */
  postgresUrl: (variable: string, options: FieldOptions<string> = {}) =>
    field(variable, options, (raw) => {
      const [, before = '', hosts = '', after = ''] =
        /^([a-z]+:\/\/(?:[^@/?#]*@)?)([^/?#]*)(.*)$/is.exec(raw) ?? [];
      for (const host of hosts.split(',')) {
        let url: URL;
        try {
          url = new URL(`${before}${host}${after}`);
        } catch {
          throw new Error('must be a URL such as postgres://user:password@host:5432/database');
        }
        if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
          throw new Error('must be a postgres:// URL');
      }
      return raw;
    }),

  /** Comma-separated `host:port` pairs, such as Kafka brokers. */
  hostPorts: (variable: string, options: FieldOptions<string[]> = {}) =>
    field(variable, options, (raw) => {
      const entries = raw
        .split(',')
        .map((entry) => entry.trim())
        .filter(Boolean);
      const bad = entries.filter((entry) => !/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/.test(entry));
      if (entries.length === 0 || bad.length > 0)
        throw new Error('must be a comma-separated list of host:port');
      return entries;
    }),

  /**
   * A secret key given in base64, at least `minBytes` long once decoded. The value is
   * never echoed in an error.
   */
  secretKey: (variable: string, options: { minBytes: number; description?: string }) =>
    field<Buffer>(variable, { description: options.description ?? '' }, (raw) => {
      if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(raw)) throw new Error('must be base64');
      const bytes = Buffer.from(raw, 'base64');
      if (bytes.length < options.minBytes)
        throw new Error(`must decode to at least ${options.minBytes} bytes`);
      return bytes;
    }),

  /** Any other format: `convert` returns the value or throws with what is wrong. */
  custom: <T>(variable: string, convert: (raw: string) => T, options: FieldOptions<T> = {}) =>
    field(variable, options, convert),

  optional,
};
