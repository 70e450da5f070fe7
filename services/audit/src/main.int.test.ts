import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';
import { generateSignerKey } from '@vaxguard/tlog';
import { itStartsAndStopsCleanly } from '@vaxguard/testing';

describe('audit service process', () => {
  itStartsAndStopsCleanly('audit', {
    AUDIT_LOG_SIGNER_KEY: generateSignerKey('audit.test.vaxguard').signerKey,
    AUDIT_STATE_DIR: mkdtempSync(join(tmpdir(), 'vaxguard-audit-main-')),
    AUDIT_WITNESSES: 'none',
  });
});
