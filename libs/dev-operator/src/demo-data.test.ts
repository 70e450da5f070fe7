import { describe, expect, it } from 'vitest';
import {
  BENEFICIARIES_PER_MOBILE,
  maskedMobile,
  plannedCentres,
  plannedHouseholds,
} from './demo-data';

describe('demo data plans', () => {
  it('spreads beneficiaries over citizens, the last one taking the rest', () => {
    expect(plannedHouseholds(4, 2)).toEqual([2, 2]);
    expect(plannedHouseholds(10, 4)).toEqual([4, 4, 2]);
    expect(plannedHouseholds(0, 2)).toEqual([]);
    expect(plannedHouseholds(10_000, 4)).toHaveLength(2_500);
    expect(() => plannedHouseholds(4, BENEFICIARIES_PER_MOBILE + 1)).toThrow(RangeError);
  });

  it("names centres after the demo's, numbered past the sample list and tagged when asked", () => {
    expect(plannedCentres(2).map((centre) => centre.key)).toEqual(['andheri', 'jayanagar']);
    const many = plannedCentres(8, 'k3x9');
    expect(many.map((centre) => centre.key)).toEqual([
      'andheri.k3x9',
      'jayanagar.k3x9',
      'saltlake.k3x9',
      'kothrud.k3x9',
      'adyar.k3x9',
      'dwarka.k3x9',
      'andheri2.k3x9',
      'jayanagar2.k3x9',
    ]);
    expect(many[6]?.name).toBe('PHC Andheri West 2 (k3x9)');
    expect(new Set(many.map((centre) => centre.name)).size).toBe(8);
    // Staff usernames are `vaccinator.<key>`: identity takes at most 32 characters.
    expect(
      Math.max(...plannedCentres(100, 'abcdefgh').map((c) => `vaccinator.${c.key}`.length)),
    ).toBeLessThanOrEqual(32);
  });

  it('shows a mobile by its last four digits only', () => {
    expect(maskedMobile('9876543210')).toBe('XXXXXX3210');
  });
});
