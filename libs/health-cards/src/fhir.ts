import { InvalidImmunizationInputError } from './errors';

/**
 * The minimised FHIR R4 content of an immunization card, as "Health Cards are Compact"
 * requires for a card shown as a QR: no Resource.id, meta or text, no CodeableConcept.text
 * or Coding.display, `resource:N` full URLs and references. The types hold only what we
 * write, so no identity number or phone can be put in.
 */

export interface FhirCoding {
  readonly system: string;
  readonly code: string;
}

export interface FhirPatient {
  readonly resourceType: 'Patient';
  readonly name: readonly [{ readonly family?: string; readonly given?: readonly string[] }];
  /** The year only ("1985"): enough to tell two namesakes apart, less to identify. */
  readonly birthDate: string;
}

/** FHIR R4 Immunization.status (required binding). */
export type ImmunizationStatus = 'completed' | 'entered-in-error' | 'not-done';
const IMMUNIZATION_STATUSES: ReadonlySet<string> = new Set([
  'completed',
  'entered-in-error',
  'not-done',
]);

export interface FhirImmunization {
  readonly resourceType: 'Immunization';
  readonly status: ImmunizationStatus;
  readonly vaccineCode: { readonly coding: readonly FhirCoding[] };
  readonly patient: { readonly reference: string };
  readonly occurrenceDateTime: string;
  readonly performer: readonly [{ readonly actor: { readonly display: string } }];
  readonly lotNumber: string;
}

export interface ImmunizationBundle {
  readonly resourceType: 'Bundle';
  readonly type: 'collection';
  readonly entry: readonly [
    { readonly fullUrl: 'resource:0'; readonly resource: FhirPatient },
    ...{ readonly fullUrl: string; readonly resource: FhirImmunization }[],
  ];
}

export interface ImmunizationBundleInput {
  readonly patient: {
    readonly givenNames: readonly string[];
    /** Optional: many people in India have a single name, held in `givenNames`. */
    readonly familyName?: string;
    readonly birthYear: number;
  };
  readonly immunizations: readonly {
    /**
     * `display` is accepted for callers' convenience but not written: the spec forbids
     * Coding.display in a card meant for a QR ("Health Cards are Compact").
     */
    readonly vaccineCodings: readonly { system: string; code: string; display?: string }[];
    /** YYYY-MM-DD. */
    readonly occurrenceDate: string;
    readonly lotNumber: string;
    readonly performerName: string;
    readonly status?: ImmunizationStatus;
  }[];
}

const CALENDAR_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isCalendarDate(value: string): boolean {
  const match = CALENDAR_DATE.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return (
    date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day
  );
}

/** Checked without narrowing, so the caller keeps its element type. */
function isNonEmptyList(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0;
}

function text(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new InvalidImmunizationInputError(`${field} must be a non-empty string`);
  }
  return value.trim();
}

/**
 * The minimised collection Bundle for one person's doses: the Patient at `resource:0`,
 * then one Immunization per dose referring to it. Only the listed fields are copied, so
 * an extra property on the input (an ID number, a phone) never reaches the card.
 */
export function buildImmunizationBundle(input: ImmunizationBundleInput): ImmunizationBundle {
  const { patient, immunizations } = input;
  if (!isNonEmptyList(patient.givenNames)) {
    throw new InvalidImmunizationInputError('patient.givenNames must list at least one name');
  }
  const given = patient.givenNames.map((name, i) => text(name, `patient.givenNames[${i}]`));
  const family =
    patient.familyName === undefined || patient.familyName.trim() === ''
      ? undefined
      : text(patient.familyName, 'patient.familyName');
  if (
    !Number.isInteger(patient.birthYear) ||
    patient.birthYear < 1000 ||
    patient.birthYear > 9999
  ) {
    throw new InvalidImmunizationInputError('patient.birthYear must be a four-digit year');
  }
  if (!isNonEmptyList(immunizations)) {
    throw new InvalidImmunizationInputError('a card lists at least one immunization');
  }
  const patientResource: FhirPatient = {
    resourceType: 'Patient',
    name: [family === undefined ? { given } : { family, given }],
    birthDate: String(patient.birthYear),
  };
  const doses = immunizations.map((dose, i) => {
    const at = `immunizations[${i}]`;
    if (!isNonEmptyList(dose.vaccineCodings)) {
      throw new InvalidImmunizationInputError(`${at}.vaccineCodings must list at least one coding`);
    }
    if (typeof dose.occurrenceDate !== 'string' || !isCalendarDate(dose.occurrenceDate)) {
      throw new InvalidImmunizationInputError(`${at}.occurrenceDate must be a YYYY-MM-DD date`);
    }
    const status = dose.status ?? 'completed';
    if (!IMMUNIZATION_STATUSES.has(status)) {
      throw new InvalidImmunizationInputError(`${at}.status must be a FHIR Immunization status`);
    }
    const resource: FhirImmunization = {
      resourceType: 'Immunization',
      status,
      vaccineCode: {
        coding: dose.vaccineCodings.map((coding, j) => ({
          system: text(coding.system, `${at}.vaccineCodings[${j}].system`),
          code: text(coding.code, `${at}.vaccineCodings[${j}].code`),
        })),
      },
      patient: { reference: 'resource:0' },
      occurrenceDateTime: dose.occurrenceDate,
      performer: [{ actor: { display: text(dose.performerName, `${at}.performerName`) } }],
      lotNumber: text(dose.lotNumber, `${at}.lotNumber`),
    };
    return { fullUrl: `resource:${i + 1}`, resource };
  });
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [{ fullUrl: 'resource:0', resource: patientResource }, ...doses],
  };
}

/** One dose as a verifier reports it. */
export interface VerifiedImmunization {
  readonly status: ImmunizationStatus;
  readonly vaccineCodings: readonly FhirCoding[];
  /** FHIR dateTime as written: a date (YYYY-MM-DD) on our cards, possibly partial elsewhere. */
  readonly occurrenceDate: string;
  /** Absent when the issuer left it out: FHIR makes it optional (0..1). */
  readonly lotNumber?: string;
  readonly performerName?: string;
}

export interface VerifiedPatient {
  readonly name: string;
  readonly birthYear: number;
}

export type ImmunizationContent =
  | {
      readonly ok: true;
      readonly patient: VerifiedPatient;
      readonly immunizations: readonly VerifiedImmunization[];
    }
  | {
      readonly ok: false;
      readonly reason: 'NOT_AN_IMMUNIZATION_CARD' | 'BAD_FHIR';
      readonly detail: string;
    };

/** FHIR date and dateTime: a year, a month, a day, or a day with time and zone. */
const FHIR_DATE_TIME =
  /^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00)))?)?)?$/;

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isText = (value: unknown): value is string => typeof value === 'string' && value !== '';
const bad = (detail: string): ImmunizationContent => ({ ok: false, reason: 'BAD_FHIR', detail });

function readPatient(resource: Json): VerifiedPatient | string {
  const names = resource['name'];
  if (!Array.isArray(names) || !isObject(names[0])) return 'Patient.name is missing';
  const name = names[0];
  const given = name['given'] ?? [];
  const family = name['family'];
  if (!Array.isArray(given) || !given.every(isText)) return 'Patient.name.given must be strings';
  if (family !== undefined && !isText(family)) return 'Patient.name.family must be a string';
  const full = [...given, ...(family === undefined ? [] : [family])].join(' ');
  if (full === '') return 'Patient.name is empty';
  const birthDate = resource['birthDate'];
  if (typeof birthDate !== 'string' || !FHIR_DATE_TIME.test(birthDate) || birthDate.includes('T')) {
    return 'Patient.birthDate must be a FHIR date';
  }
  return { name: full, birthYear: Number(birthDate.slice(0, 4)) };
}

function readImmunization(resource: Json, patientUrl: string): VerifiedImmunization | string {
  const status = resource['status'];
  if (typeof status !== 'string' || !IMMUNIZATION_STATUSES.has(status)) {
    return 'Immunization.status must be a FHIR Immunization status';
  }
  const vaccineCode = resource['vaccineCode'];
  const coding = isObject(vaccineCode) ? vaccineCode['coding'] : undefined;
  if (!Array.isArray(coding) || coding.length === 0)
    return 'Immunization.vaccineCode.coding is missing';
  const vaccineCodings: FhirCoding[] = [];
  for (const entry of coding) {
    if (!isObject(entry) || !isText(entry['system']) || !isText(entry['code'])) {
      return 'each vaccineCode coding has a system and a code';
    }
    vaccineCodings.push({ system: entry['system'], code: entry['code'] });
  }
  const patient = resource['patient'];
  if (!isObject(patient) || patient['reference'] !== patientUrl) {
    return "Immunization.patient must refer to the bundle's Patient";
  }
  const occurrence = resource['occurrenceDateTime'];
  if (typeof occurrence !== 'string' || !FHIR_DATE_TIME.test(occurrence)) {
    return 'Immunization.occurrenceDateTime must be a FHIR dateTime';
  }
  const lotNumber = resource['lotNumber'];
  if (lotNumber !== undefined && !isText(lotNumber))
    return 'Immunization.lotNumber must be a string';
  const performers = resource['performer'];
  let performerName: string | undefined;
  if (performers !== undefined) {
    if (!Array.isArray(performers)) return 'Immunization.performer must be a list';
    for (const performer of performers) {
      const actor = isObject(performer) ? performer['actor'] : undefined;
      if (!isObject(actor)) return 'each Immunization.performer has an actor';
      const display = actor['display'];
      if (display !== undefined && !isText(display))
        return 'performer.actor.display must be a string';
      performerName ??= display;
    }
  }
  return {
    status: status as ImmunizationStatus,
    vaccineCodings,
    occurrenceDate: occurrence,
    ...(lotNumber === undefined ? {} : { lotNumber }),
    ...(performerName === undefined ? {} : { performerName }),
  };
}

/**
 * Reads the immunization content of a verified card's `fhirBundle`: exactly one Patient
 * and at least one Immunization referring to it. Other resource types are skipped. Since
 * v1.4.0 a card is an immunization card by content, so a bundle with no Immunization is
 * NOT_AN_IMMUNIZATION_CARD; a malformed one is BAD_FHIR.
 */
export function readImmunizationBundle(bundle: unknown): ImmunizationContent {
  if (!isObject(bundle) || bundle['resourceType'] !== 'Bundle')
    return bad('fhirBundle is not a Bundle');
  // v1.3.0 allows any Bundle.type; it is still required (1..1) by FHIR.
  if (!isText(bundle['type'])) return bad('Bundle.type is missing');
  const entries = bundle['entry'];
  if (!Array.isArray(entries)) return bad('Bundle.entry is missing');
  const patients: { url: string; resource: Json }[] = [];
  const immunizations: Json[] = [];
  for (const entry of entries) {
    if (!isObject(entry) || !isObject(entry['resource'])) return bad('each entry holds a resource');
    const resource = entry['resource'];
    if (resource['resourceType'] === 'Patient') {
      if (!isText(entry['fullUrl'])) return bad('the Patient entry has no fullUrl');
      patients.push({ url: entry['fullUrl'], resource });
    } else if (resource['resourceType'] === 'Immunization') {
      immunizations.push(resource);
    }
  }
  if (immunizations.length === 0) {
    return {
      ok: false,
      reason: 'NOT_AN_IMMUNIZATION_CARD',
      detail: 'the bundle holds no Immunization',
    };
  }
  const [subject, ...others] = patients;
  if (!subject || others.length > 0) return bad('the bundle must hold exactly one Patient');
  const patient = readPatient(subject.resource);
  if (typeof patient === 'string') return bad(patient);
  const doses: VerifiedImmunization[] = [];
  for (const resource of immunizations) {
    const dose = readImmunization(resource, subject.url);
    if (typeof dose === 'string') return bad(dose);
    doses.push(dose);
  }
  return { ok: true, patient, immunizations: doses };
}
