import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@vaxguard/config';
import { Admission, DEFAULT_ADAPTIVE_LIMIT, DEFAULT_ADMISSION_LIMITS } from '@vaxguard/grpc-kit';
import { admissionLimitsOf, runtimeConfigSchema } from './config';

const REQUIRED = {
  DATABASE_URL: 'postgres://vaxguard:vaxguard@127.0.0.1:5432/vaxguard',
  KAFKA_BROKERS: '127.0.0.1:9092',
  CLIENT_CREDENTIALS: `portal:${'a'.repeat(64)}`,
};

const limitsFrom = (environment: Record<string, string>) =>
  admissionLimitsOf(loadConfig({ ...REQUIRED, ...environment }, runtimeConfigSchema(0)));

describe('admission limits from the environment', () => {
  it('are the fixed ceilings when nothing is set, with the adaptive limit where the service turns it on', () => {
    expect(limitsFrom({})).toEqual(DEFAULT_ADMISSION_LIMITS);
    expect(limitsFrom({})).not.toHaveProperty('adaptive');
    const adaptiveByDefault = loadConfig(
      REQUIRED,
      runtimeConfigSchema(0, { adaptiveAdmission: true }),
    );
    expect(admissionLimitsOf(adaptiveByDefault)).toEqual({
      ...DEFAULT_ADMISSION_LIMITS,
      adaptive: DEFAULT_ADAPTIVE_LIMIT,
    });
  });

  it('take the adaptive target, floor and start, or leave the ceilings alone', () => {
    expect(
      limitsFrom({
        GRPC_ADMISSION_ADAPTIVE: 'true',
        GRPC_ADMISSION_TARGET_LATENCY: '20ms',
        GRPC_ADMISSION_MIN_LIMIT: '4',
        GRPC_ADMISSION_INITIAL_LIMIT: '16',
        GRPC_MAX_IN_FLIGHT_PER_METHOD: '100',
      }),
    ).toMatchObject({
      perMethod: 100,
      adaptive: { targetLatencyMs: 20, minLimit: 4, initialLimit: 16 },
    });
    expect(limitsFrom({ GRPC_ADMISSION_ADAPTIVE: 'false' })).not.toHaveProperty('adaptive');
  });

  it('refuse what is not a limit, naming the variable, and what does not fit together at start', () => {
    expect(() => limitsFrom({ GRPC_ADMISSION_TARGET_LATENCY: '50' })).toThrow(ConfigError);
    expect(() => limitsFrom({ GRPC_ADMISSION_MIN_LIMIT: '0' })).toThrow(/GRPC_ADMISSION_MIN_LIMIT/);
    expect(
      () =>
        new Admission(
          limitsFrom({
            GRPC_ADMISSION_ADAPTIVE: 'true',
            GRPC_ADMISSION_MIN_LIMIT: '32',
            GRPC_ADMISSION_INITIAL_LIMIT: '16',
          }),
        ),
    ).toThrow(/minLimit \(32\) must not exceed initialLimit \(16\)/);
    expect(
      () =>
        new Admission(
          limitsFrom({ GRPC_ADMISSION_ADAPTIVE: 'yes', GRPC_ADMISSION_TARGET_LATENCY: '0ms' }),
        ),
    ).toThrow(/targetLatencyMs/);
  });
});

describe('where metrics are served', () => {
  const read = (environment: Record<string, string>) =>
    loadConfig({ ...REQUIRED, ...environment }, runtimeConfigSchema(0));

  it('nowhere, and every HTTP listener on loopback, unless configured', () => {
    expect(read({})).toMatchObject({ metricsPort: undefined, httpBindHost: '127.0.0.1' });
    expect(read({ METRICS_PORT: '9464', HTTP_BIND_HOST: '0.0.0.0' })).toMatchObject({
      metricsPort: 9464,
      httpBindHost: '0.0.0.0',
    });
  });

  it('refuses a port that is not one, naming the variable', () => {
    expect(() => read({ METRICS_PORT: 'metrics' })).toThrow(/METRICS_PORT/);
    expect(() => read({ METRICS_PORT: '70000' })).toThrow(/METRICS_PORT/);
  });
});
