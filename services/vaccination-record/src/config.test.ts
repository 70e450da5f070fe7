import { describe, expect, it } from 'vitest';
import { configProblems } from '@vaxguard/testing';
import { readConfig } from './config';

const secret = (byte: number) => Buffer.alloc(32, byte).toString('base64');
const valid = {
  DATABASE_URL: 'postgres://vr:vr@localhost:5432/vr',
  KAFKA_BROKERS: 'localhost:9092',
  CLIENT_CREDENTIALS: `cowin-portal:${'a'.repeat(64)}`,
  OTP_GRPC_ADDRESS: '127.0.0.1:50052',
  IDENTITY_GRPC_ADDRESS: '127.0.0.1:50051',
  SERVICE_CLIENT_ID: 'svc-vaccination-record',
  SERVICE_CLIENT_SECRET: 'a secret of at least sixteen characters',
  ISSUER_URL: 'https://cards.vaxguard.example/issuer',
  ISSUER_KEY_ENCRYPTION_KEY: secret(1),
};

const problems = (environment: Record<string, string>) => configProblems(readConfig, environment);

describe('vaccination-record configuration', () => {
  it('takes an https issuer, with its keys served over HTTP on localhost or not', () => {
    expect(readConfig(valid)).toMatchObject({
      issuerUrl: 'https://cards.vaxguard.example/issuer',
      issuerHttpPort: undefined,
    });
    expect(readConfig({ ...valid, ISSUER_HTTP_PORT: '58080' }).issuerHttpPort).toBe(58080);
  });

  it.each(['http://127.0.0.1:58080/issuer', 'http://localhost:58080/issuer'])(
    'takes the development exception %s, a loopback issuer on the port its keys are served on',
    (issuer) => {
      const config = readConfig({ ...valid, ISSUER_URL: issuer, ISSUER_HTTP_PORT: '58080' });
      expect([config.issuerUrl, config.issuerHttpPort]).toEqual([issuer, 58080]);
    },
  );

  it.each([
    'http://cards.vaxguard.example/issuer',
    'http://10.0.0.7:58080/issuer',
    'http://[::1]:58080/issuer',
    'http://127.0.0.1/issuer',
    'http://127.0.0.1:58080/issuer/',
    'http://127.0.0.1:58080/a/../issuer',
    'https://cards.vaxguard.example/issuer/',
    'https://cards.vaxguard.example/issuer?v=1',
    'ftp://127.0.0.1:58080/issuer',
    'not a url',
  ])('refuses the issuer URL %s at start, naming the rule', (issuer) => {
    expect(problems({ ...valid, ISSUER_URL: issuer })).toEqual([
      'ISSUER_URL: must be an https URL with no trailing /, query or fragment (in development only: http://127.0.0.1:<port>/<path> or http://localhost:<port>/<path>)',
    ]);
  });

  it('refuses a loopback issuer whose port is not where its keys are served', () => {
    expect(
      problems({
        ...valid,
        ISSUER_URL: 'http://127.0.0.1:58081/issuer',
        ISSUER_HTTP_PORT: '58080',
      }),
    ).toEqual([
      'ISSUER_URL: a loopback issuer must name the port its keys are served on, ISSUER_HTTP_PORT (58080)',
    ]);
  });
});
