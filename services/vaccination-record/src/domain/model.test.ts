import { describe, expect, it } from 'vitest';
import { type DoseRequest } from './model';
import { sameDoseRequest } from './schedule-rules';

const request: DoseRequest = {
  clientRequestId: 'req-1',
  beneficiaryRef: 'ben-1',
  vaccineCode: 'COVISHIELD',
  doseNumber: 2,
  administeredOn: '2022-03-28',
  batchNumber: '4121Z025',
  centreId: 'centre-1',
  vaccinatorRef: 'staff-1',
};

describe('idempotency of a dose request', () => {
  it('sees a retry as the same request, whatever its id or the case of its batch number', () => {
    expect(sameDoseRequest(request, { ...request })).toBe(true);
    const underAnotherId: DoseRequest = { ...request, clientRequestId: 'req-2' };
    expect(sameDoseRequest(request, underAnotherId)).toBe(true);
    expect(sameDoseRequest(request, { ...request, batchNumber: ' 4121z025 ' })).toBe(true);
  });

  it.each([
    ['beneficiaryRef', 'ben-2'],
    ['vaccineCode', 'COVAXIN'],
    ['doseNumber', 3],
    ['administeredOn', '2022-03-29'],
    ['batchNumber', '4121Z026'],
    ['centreId', 'centre-2'],
    ['vaccinatorRef', 'staff-2'],
  ] as const)('sees a different %s as a different request', (field, value) => {
    expect(sameDoseRequest(request, { ...request, [field]: value })).toBe(false);
  });

  it('compares a stored dose with a new request', () => {
    const recorded = {
      ...request,
      vaccineCode: 'COVISHIELD' as const,
      doseId: 'dose-1',
      series: 'PRIMARY' as const,
      recordedAt: new Date('2022-03-28T06:00:00Z'),
    };
    expect(sameDoseRequest(recorded, { ...request, batchNumber: '4121z025' })).toBe(true);
    expect(sameDoseRequest(recorded, { ...request, doseNumber: 1 })).toBe(false);
  });
});
