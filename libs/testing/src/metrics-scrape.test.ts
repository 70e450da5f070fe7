import { describe, expect, it } from 'vitest';
import { parseExposition, samplesOf, suspiciousLabelValues } from './metrics-scrape';

const GOOD = `# HELP calls_total Calls.
# TYPE calls_total counter
calls_total{service="otp",grpc_code="OK"} 3
calls_total{service="otp",grpc_code="NOT_FOUND",note="a \\"quoted\\" \\\\ value"} 1
# TYPE latency_seconds histogram
latency_seconds_bucket{le="0.005"} 1
latency_seconds_bucket{le="+Inf"} 2
latency_seconds_sum 0.75
latency_seconds_count 2
# TYPE lag_seconds gauge
lag_seconds Nan
# TYPE up gauge
up 1 1700000000000
`;

describe('parseExposition', () => {
  it('reads samples, labels (escapes undone), histogram series and timestamps', () => {
    const scrape = parseExposition(GOOD);
    expect(samplesOf(scrape, 'calls_total', { grpc_code: 'OK' })).toEqual([
      { name: 'calls_total', labels: { service: 'otp', grpc_code: 'OK' }, value: 3 },
    ]);
    expect(samplesOf(scrape, 'calls_total', { grpc_code: 'NOT_FOUND' })[0]?.labels['note']).toBe(
      'a "quoted" \\ value',
    );
    expect(samplesOf(scrape, 'latency_seconds_bucket', { le: '+Inf' })[0]?.value).toBe(2);
    expect(samplesOf(scrape, 'up')[0]?.value).toBe(1);
    expect(scrape.types.get('latency_seconds')).toBe('histogram');
    expect(samplesOf(scrape, 'lag_seconds')[0]?.value).toBeNaN();
  });

  it.each([
    ['a sample before its TYPE', 'calls_total 1\n'],
    ['an unquoted label', '# TYPE a counter\na{b=c} 1\n'],
    ['an unterminated label value', '# TYPE a counter\na{b="c} 1\n'],
    ['a value that is no number', '# TYPE a counter\na 1x\n'],
    ['a bad metric name', '# TYPE 1a counter\n1a 1\n'],
    ['a missing final newline', '# TYPE a counter\na 1'],
    ['an unknown type', '# TYPE a meter\na 1\n'],
    ['junk after the value', '# TYPE a counter\na 1 2 3\n'],
  ])('refuses %s', (_, text) => {
    expect(() => parseExposition(text)).toThrow();
  });
});

describe('suspiciousLabelValues', () => {
  it('names label values shaped like a mobile, an identity number or a token, and passes names and codes', () => {
    const scrape = parseExposition(
      [
        '# TYPE m counter',
        'm{grpc_method="GenerateOtp",reason="CLIENT_QUOTA",le="0.005"} 1',
        'm{mobile="9876543210"} 1',
        'm{token="eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0"} 1',
        '',
      ].join('\n'),
    );
    expect(suspiciousLabelValues(scrape)).toEqual([
      'm{mobile="9876543210"}',
      'm{token="eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0"}',
    ]);
  });
});
