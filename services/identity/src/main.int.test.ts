import { describe } from 'vitest';
import { itStartsAndStopsCleanly } from '@vaxguard/testing';

const key = (byte: number) => Buffer.alloc(32, byte).toString('base64');

describe('identity service process', () => {
  itStartsAndStopsCleanly('identity', {
    MOBILE_INDEX_KEY: key(1),
    DOCUMENT_INDEX_KEY: key(2),
    SECRET_CODE_KEY: key(3),
    IDENTITY_KEY_ENCRYPTION_KEYS: `kek-1:${key(4)}`,
  });
});
