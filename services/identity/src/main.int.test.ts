import { describe } from 'vitest';
import { itStartsAndStopsCleanly } from '@vaxguard/testing';

describe('identity service process', () => {
  itStartsAndStopsCleanly('identity');
});
