import { describe, expect, it } from 'vitest';
import { AuditLogCheckError } from '@vaxguard/dev-operator';
import { permissionDenied, unavailable, VaxGuardError } from '@vaxguard/errors';
import { ProofVerificationError } from '@vaxguard/tlog';
import { EXIT, toCliError, UsageError } from './errors';

describe('toCliError', () => {
  it('keeps a CliError as it is', () => {
    const usage = new UsageError('no');
    expect(toCliError(usage)).toBe(usage);
  });

  it('makes a platform that does not answer exit 3, and says what to check', () => {
    for (const error of [
      unavailable('No connection established'),
      new VaxGuardError('DEADLINE_EXCEEDED', 'Deadline exceeded'),
      new Error('GET http://127.0.0.1:1/jwks.json failed', {
        cause: new TypeError('fetch failed', {
          cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }),
        }),
      }),
    ]) {
      const failure = toCliError(error);
      expect(failure.exitCode).toBe(EXIT.unreachable);
      expect(failure.message).toContain('is the platform running? (npx vaxguard status)');
      expect(failure.cause).toBe(error);
    }
  });

  it('makes a refusal exit 1 with its code and reason', () => {
    const failure = toCliError(permissionDenied('locked', { reason: 'API_LOCKED' }));
    expect(failure.exitCode).toBe(EXIT.failed);
    expect(failure.message).toBe('refused (PERMISSION_DENIED, API_LOCKED): locked');
  });

  it('makes a failed audit log check exit 1', () => {
    for (const error of [
      new AuditLogCheckError('the log shrank'),
      new ProofVerificationError('not a prefix'),
    ]) {
      const failure = toCliError(error);
      expect(failure.exitCode).toBe(EXIT.failed);
      expect(failure.message).toMatch(/^audit log check failed: /);
    }
  });
});
