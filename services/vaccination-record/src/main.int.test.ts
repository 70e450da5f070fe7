import { describe } from 'vitest';
import { itStartsAndStopsCleanly } from '@vaxguard/testing';

describe('vaccination-record service process', () => {
  itStartsAndStopsCleanly('vaccination-record', {
    // Contacted only when a beneficiary is read, which this test does not do.
    IDENTITY_GRPC_ADDRESS: '127.0.0.1:1',
    ISSUER_URL: 'https://vaxguard.example/vaccination-record',
    ISSUER_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
  });
});
