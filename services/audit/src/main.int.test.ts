import { describe } from 'vitest';
import { itStartsAndStopsCleanly } from '@vaxguard/testing';

describe('audit service process', () => {
  itStartsAndStopsCleanly('audit');
});
