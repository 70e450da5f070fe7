import { describe } from 'vitest';
import { itStartsAndStopsCleanly } from '@vaxguard/testing';

describe('vaccination-record service process', () => {
  itStartsAndStopsCleanly('vaccination-record');
});
