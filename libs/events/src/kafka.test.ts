import { logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { kafkaLogSeverity } from './kafka';

describe('kafkaLogSeverity', () => {
  it('keeps kafkajs errors as errors, but a broker error response its caller is handed is a warning', () => {
    expect(kafkaLogSeverity(logLevel.ERROR, 'Crash: KafkaJSNumberOfRetriesExceeded')).toBe('error');
    expect(kafkaLogSeverity(logLevel.ERROR, 'Response GroupCoordinator(key: 10, version: 2)')).toBe(
      'warn',
    );
    expect(kafkaLogSeverity(logLevel.WARN, 'Connection timeout')).toBe('warn');
  });
});
