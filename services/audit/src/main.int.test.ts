import { describe } from 'vitest';
import { generateSignerKey } from '@vaxguard/tlog';
import { itStartsAndStopsCleanly } from '@vaxguard/testing';

describe('audit service process', () => {
  itStartsAndStopsCleanly('audit', {
    AUDIT_LOG_SIGNER_KEY: generateSignerKey('audit.test.vaxguard').signerKey,
  });
});
