import { verhoeffIsValid } from '@vaxguard/pii';
import { describe, expect, it } from 'vitest';
import {
  COVID19_DISEASE,
  CVX_SYSTEM,
  fhirVaccineCodings,
  healthCardVaccineCoding,
  ICD11_MMS_SYSTEM,
  isCovid19Vaccine,
  parseVaccineCode,
  SNOMED_CT_SYSTEM,
  VACCINE_CODES,
  VACCINES,
} from './vaccines';

describe('the vaccine catalogue', () => {
  it('holds the four vaccines of the programme under their own code', () => {
    expect(Object.keys(VACCINES).sort()).toEqual([...VACCINE_CODES].sort());
    for (const code of VACCINE_CODES) expect(VACCINES[code].code).toBe(code);
  });

  it('takes a known code and refuses any other, INVALID_ARGUMENT', () => {
    expect(parseVaccineCode('SPUTNIK_V')).toBe('SPUTNIK_V');
    expect(() => parseVaccineCode('COVOVAX')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', reason: 'UNKNOWN_VACCINE' }),
    );
  });

  it('gives each vaccine its own CVX code, and the health card carries it', () => {
    const cvx = VACCINE_CODES.map((code) => healthCardVaccineCoding(code));
    for (const coding of cvx) {
      expect(coding.system).toBe(CVX_SYSTEM);
      expect(coding.code).toMatch(/^\d{1,3}$/);
    }
    expect(new Set(cvx.map((coding) => coding.code)).size).toBe(VACCINE_CODES.length);
  });

  it('lists CVX first, then SNOMED CT and ICD-11 where they exist', () => {
    expect(fhirVaccineCodings('COVISHIELD').map((coding) => coding.system)).toEqual([
      CVX_SYSTEM,
      SNOMED_CT_SYSTEM,
      ICD11_MMS_SYSTEM,
    ]);
    // No SNOMED CT edition we found has a concept for Corbevax.
    expect(fhirVaccineCodings('CORBEVAX').map((coding) => coding.system)).toEqual([
      CVX_SYSTEM,
      ICD11_MMS_SYSTEM,
    ]);
  });

  it('knows a COVID-19 vaccine by its target disease’s code, whatever it is called', () => {
    for (const code of VACCINE_CODES) expect(isCovid19Vaccine(VACCINES[code])).toBe(true);
    const measles = { system: SNOMED_CT_SYSTEM, code: '14189004', display: 'Measles' };
    expect(isCovid19Vaccine({ targetDisease: measles })).toBe(false);
    // The code decides, not the words: another system's "840539006" is not COVID-19.
    expect(
      isCovid19Vaccine({ targetDisease: { ...COVID19_DISEASE, system: ICD11_MMS_SYSTEM } }),
    ).toBe(false);
    expect(isCovid19Vaccine({ targetDisease: { ...measles, display: 'COVID-19' } })).toBe(false);
  });

  it('uses SNOMED CT concept ids of the Canadian Edition, each with a valid check digit', () => {
    for (const code of VACCINE_CODES) {
      const snomed = VACCINES[code].codings.snomedCt;
      if (!snomed) continue;
      // An SCTID ends in a Verhoeff check digit after a partition identifier; "10" is a
      // concept of an extension, whose 7-digit namespace comes before it (1000087: Canada).
      expect(verhoeffIsValid(snomed.code)).toBe(true);
      expect(snomed.code.slice(-10, -1)).toBe('100008710');
    }
  });
});
