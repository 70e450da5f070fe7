import { invalidArgument } from '@vaxguard/errors';

/**
 * The vaccine catalogue: the COVID-19 vaccines India's programme gave, keyed by a stable
 * code of our own, each with its primary-series schedule (the rules that use it are in
 * schedule-rules.ts) and its codes for FHIR Immunization.vaccineCode.
 *
 * Sources for the codes:
 * - CVX: CDC's CVX table (https://www2a.cdc.gov/vaccines/iis/iisstandards/vaccines.asp?rpt=cvx),
 *   read through the SMART Health Cards terminology site's copy of it
 *   (github.com/dvci/shc-terminology, "Immunization / All / CVX", as of 2023-06-23).
 * - SNOMED CT: SNOMED CT International has no concept for any of these brands; the
 *   product concepts below are from the Canadian Edition (namespace 1000087, Canada Health
 *   Infoway's COVID-19 vaccine concepts), as listed in the SMART Health Cards COVID-19
 *   SNOMED CT value set (terminology.smarthealth.cards/ValueSet/immunization-covid-snomed,
 *   version 2023.1). No edition we could find has a concept for Corbevax.
 * - ICD-11 MMS: the same site's CVX → ICD-11 concept map (immunization-covid-mapping-cvx-air).
 */

export const CVX_SYSTEM = 'http://hl7.org/fhir/sid/cvx';
export const SNOMED_CT_SYSTEM = 'http://snomed.info/sct';
/** The URI the SMART Health Cards vaccination profile gives for ICD-11 MMS. */
export const ICD11_MMS_SYSTEM = 'http://id.who.int/icd/release/11/mms';

/** One code of one code system, as it goes into a FHIR CodeableConcept. */
export interface Coding {
  readonly system: string;
  readonly code: string;
  readonly display: string;
}

/**
 * COVID-19 as a target disease: SNOMED CT 840539006 "Disease caused by severe acute
 * respiratory syndrome coronavirus 2 (disorder)", the code FHIR
 * Immunization.protocolApplied.targetDisease and the EU Digital COVID Certificate give it.
 */
export const COVID19_DISEASE: Coding = {
  system: SNOMED_CT_SYSTEM,
  code: '840539006',
  display: 'COVID-19',
};

export const VACCINE_CODES = ['COVISHIELD', 'COVAXIN', 'CORBEVAX', 'SPUTNIK_V'] as const;
export type VaccineCode = (typeof VACCINE_CODES)[number];

/** Days from one dose to the next: the earliest and the latest day it may be given. */
export interface DoseInterval {
  readonly minDays: number;
  readonly maxDays: number;
}

export interface Vaccine {
  readonly code: VaccineCode;
  readonly displayName: string;
  readonly manufacturer: string;
  /** Doses in the primary series; every vaccine here has 2. */
  readonly primarySeriesDoses: number;
  /** From dose 1 to dose 2 of the primary series. */
  readonly secondDoseInterval: DoseInterval;
  /** The age, counted by year of birth (see schedule-rules.ts), from which it is given. */
  readonly minimumAgeYears: number;
  /** The disease it protects against (every vaccine here: COVID19_DISEASE). */
  readonly targetDisease: Coding;
  readonly codings: {
    /** Every vaccine here has one; the SMART Health Card carries this one. */
    readonly cvx: Coding;
    /** Absent where no SNOMED CT edition has a concept for the product. */
    readonly snomedCt?: Coding;
    readonly icd11?: Coding;
  };
}

// ---- Covishield ---------------------------------------------------------------------

/**
 * Dose 2 at 12 to 16 weeks (84 to 112 days) after dose 1: MoHFW, 13 May 2021, accepting
 * NEGVAC's and NTAGI's recommendation (it had been 4-6 weeks from January 2021 and 4-8
 * weeks from 22 March 2021). NTAGI recommended 8-16 weeks in March 2022; we found no
 * MoHFW order adopting it, so 12-16 weeks stays. The window is the one in force now: a
 * dose recorded late for early 2021, when 28 days was the rule, is refused (see report).
 */
export const COVISHIELD_SECOND_DOSE: DoseInterval = { minDays: 12 * 7, maxDays: 16 * 7 };

/**
 * Covishield is Serum Institute of India's licensed ChAdOx1 nCoV-19 (AZD1222), the
 * AstraZeneca/Oxford vaccine: CDC has no separate code for it, and CVX 210 "COVID-19
 * vaccine, vector-nr, rS-ChAdOx1, PF, 0.5 mL" names the product (Canadian verifier apps'
 * vaccine tables map Covishield to 210 too). SNOMED CT Canadian Edition
 * 28961000087105 "COVID-19 COVISHIELD VP" is the Covishield product itself.
 */
const COVISHIELD: Vaccine = {
  code: 'COVISHIELD',
  displayName: 'Covishield',
  manufacturer: 'Serum Institute of India',
  primarySeriesDoses: 2,
  secondDoseInterval: COVISHIELD_SECOND_DOSE,
  // Authorised for 18 and over (CDSCO, January 2021); never extended in the programme.
  minimumAgeYears: 18,
  targetDisease: COVID19_DISEASE,
  codings: {
    cvx: {
      system: CVX_SYSTEM,
      code: '210',
      display: 'COVID-19 vaccine, vector-nr, rS-ChAdOx1, PF, 0.5 mL',
    },
    snomedCt: {
      system: SNOMED_CT_SYSTEM,
      code: '28961000087105',
      display: 'COVID-19 COVISHIELD VP',
    },
    icd11: { system: ICD11_MMS_SYSTEM, code: 'XM97T2', display: 'Covishield®' },
  },
};

// ---- Covaxin ------------------------------------------------------------------------

/** Dose 2 at 4 to 6 weeks (28 to 42 days): MoHFW, unchanged since January 2021. */
export const COVAXIN_SECOND_DOSE: DoseInterval = { minDays: 4 * 7, maxDays: 6 * 7 };

const COVAXIN: Vaccine = {
  code: 'COVAXIN',
  displayName: 'Covaxin',
  manufacturer: 'Bharat Biotech',
  primarySeriesDoses: 2,
  secondDoseInterval: COVAXIN_SECOND_DOSE,
  // 15 to 17 year olds were vaccinated with Covaxin only, from 3 January 2022 (MoHFW,
  // 27 December 2021); the programme never gave it younger.
  minimumAgeYears: 15,
  targetDisease: COVID19_DISEASE,
  codings: {
    cvx: { system: CVX_SYSTEM, code: '502', display: 'COVID-19 IV Non-US Vaccine (COVAXIN)' },
    snomedCt: { system: SNOMED_CT_SYSTEM, code: '33211000087105', display: 'COVID-19 COVAXIN' },
    icd11: { system: ICD11_MMS_SYSTEM, code: 'XM1G90', display: 'Covaxin' },
  },
};

// ---- Corbevax -----------------------------------------------------------------------

/**
 * Dose 2 at 28 days: MoHFW's guidelines for 12-14 year olds (14 March 2022) say "an
 * interval of 28 days" and publish no upper limit. We allow up to 6 weeks (42 days): the
 * window MoHFW gives Covaxin, the programme's other 28-day vaccine. This maximum is ours,
 * not MoHFW's.
 */
export const CORBEVAX_SECOND_DOSE: DoseInterval = { minDays: 28, maxDays: 6 * 7 };

/**
 * CVX 517 is Corbevax's own code. SNOMED CT: we found none, neither in the International
 * Edition nor in the SMART Health Cards value set, which gathers the COVID-19 product
 * concepts of several national editions. ICD-11 has no product entry; XM5JC5 is the class
 * "COVID-19 vaccine, virus protein subunit" (a wider code, as the SMART Health Cards
 * concept map marks it).
 */
const CORBEVAX: Vaccine = {
  code: 'CORBEVAX',
  displayName: 'Corbevax',
  manufacturer: 'Biological E',
  primarySeriesDoses: 2,
  secondDoseInterval: CORBEVAX_SECOND_DOSE,
  // 12 to 14 year olds, with Corbevax only, from 16 March 2022 (MoHFW, 14 March 2022).
  minimumAgeYears: 12,
  targetDisease: COVID19_DISEASE,
  codings: {
    cvx: {
      system: CVX_SYSTEM,
      code: '517',
      display: 'SARS-COV-2 COVID-19 PS Non-US Vaccine (Biological E Limited, Corbevax)',
    },
    icd11: {
      system: ICD11_MMS_SYSTEM,
      code: 'XM5JC5',
      display: 'COVID-19 vaccine, virus protein subunit',
    },
  },
};

// ---- Sputnik V ----------------------------------------------------------------------

/**
 * Component II at 21 days after component I: CDSCO's authorisation (12 April 2021) and
 * Dr. Reddy's, its distributor in India ("two doses with a 21-day gap"). India published
 * no upper limit; we take the developer's: RDIF said in 2021 that the gap "can be extended
 * up to 180 days" and the vaccine remains effective.
 */
export const SPUTNIK_V_SECOND_DOSE: DoseInterval = { minDays: 21, maxDays: 180 };

/**
 * Its two components (rAd26, then rAd5) are not interchangeable; dose 1 is component I and
 * dose 2 component II, so the dose number says which was given. CVX 505 and the Canadian
 * SNOMED CT 31341000087103 name the vaccine, not a component.
 */
const SPUTNIK_V: Vaccine = {
  code: 'SPUTNIK_V',
  displayName: 'Sputnik V',
  manufacturer: 'Gamaleya Research Institute (Dr. Reddy’s Laboratories in India)',
  primarySeriesDoses: 2,
  secondDoseInterval: SPUTNIK_V_SECOND_DOSE,
  // Authorised for 18 and over (CDSCO, April 2021).
  minimumAgeYears: 18,
  targetDisease: COVID19_DISEASE,
  codings: {
    cvx: { system: CVX_SYSTEM, code: '505', display: 'COVID-19 VVnr Non-US Vaccine (Sputnik V)' },
    snomedCt: { system: SNOMED_CT_SYSTEM, code: '31341000087103', display: 'COVID-19 Sputnik V' },
    icd11: { system: ICD11_MMS_SYSTEM, code: 'XM5ZJ4', display: 'Gam-Covid-Vac' },
  },
};

export const VACCINES: Readonly<Record<VaccineCode, Vaccine>> = {
  COVISHIELD,
  COVAXIN,
  CORBEVAX,
  SPUTNIK_V,
};

export function isVaccineCode(value: unknown): value is VaccineCode {
  return typeof value === 'string' && (VACCINE_CODES as readonly string[]).includes(value);
}

/** A vaccine code from a request; anything outside the catalogue is INVALID_ARGUMENT. */
export function parseVaccineCode(value: string): VaccineCode {
  if (!isVaccineCode(value)) {
    throw invalidArgument(`vaccine_code must be one of ${VACCINE_CODES.join(', ')}`, {
      reason: 'UNKNOWN_VACCINE',
    });
  }
  return value;
}

/**
 * The coding a SMART Health Card carries. The SMART Health Cards vaccination profile
 * (HL7 FHIR IG "SMART Health Cards: Vaccination & Testing") says implementers SHALL use a
 * code from at least one of CVX, ICD-11 MMS or SNOMED CT; CVX is the one every verifier
 * knows (the US issuers and validators use it) and the only one all four vaccines have
 * at product level, so cards carry CVX alone: one coding keeps the QR code small.
 */
export function healthCardVaccineCoding(code: VaccineCode): Coding {
  return VACCINES[code].codings.cvx;
}

/**
 * Whether a vaccine protects against COVID-19, by its target disease's code (system and
 * code, not its display): a card holding one is a COVID-19 card (SMART Health Cards'
 * `#covid19` type).
 */
export function isCovid19Vaccine(vaccine: Pick<Vaccine, 'targetDisease'>): boolean {
  const { system, code } = vaccine.targetDisease;
  return system === COVID19_DISEASE.system && code === COVID19_DISEASE.code;
}

/** Every coding we know for the vaccine, CVX first: for a full FHIR Immunization record. */
export function fhirVaccineCodings(code: VaccineCode): Coding[] {
  const { cvx, snomedCt, icd11 } = VACCINES[code].codings;
  return [cvx, ...(snomedCt ? [snomedCt] : []), ...(icd11 ? [icd11] : [])];
}
