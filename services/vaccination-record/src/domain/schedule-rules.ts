import { failedPrecondition, invalidArgument } from '@vaxguard/errors';
import {
  type CheckedDose,
  type DoseRequest,
  type DoseSeries,
  type IndianDate,
  type ProposedDose,
  type ScheduledDose,
} from './model';
import { parseVaccineCode, VACCINE_CODES, VACCINES, type VaccineCode } from './vaccines';

/**
 * The rules of India's COVID-19 vaccination schedule, each a named constant or a small
 * pure function, so a reader finds them in one place and each has its own unit test.
 * RecordDose and CorrectDose call `checkDose`; FindBeneficiaryForVaccination calls
 * `nextDoseDue`. The per-vaccine primary-series intervals and minimum ages are in the
 * catalogue, vaccines.ts. Sources: the Ministry of Health and Family Welfare's (MoHFW)
 * guidance to States as cited beside each rule. Where a rule changed, the rule in force
 * now applies to every dose, whatever its date.
 *
 * A refusal names the rule (its message) and carries a stable `reason`; it never repeats
 * the beneficiary's dates, year of birth or batch number.
 */

// ---- Dates --------------------------------------------------------------------------

/** The programme began on 16 January 2021; no dose in the register is earlier. */
export const PROGRAMME_START: IndianDate = '2021-01-16';

/** India Standard Time, UTC+05:30 all year: a dose's date is the date in India. */
export const IST_OFFSET_MS = 5.5 * 3_600_000;

const DAY_MS = 86_400_000;
const DATE_FORMAT = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Days since 1970-01-01 of a real calendar date written `YYYY-MM-DD`, else undefined. */
function dayNumberOf(date: string): number | undefined {
  const match = DATE_FORMAT.exec(date);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const time = Date.UTC(year, month - 1, day);
  // Date.UTC rolls 2021-02-30 over to 2 March; a real date reads back the same.
  return new Date(time).toISOString().startsWith(date) ? time / DAY_MS : undefined;
}

function dayNumber(date: IndianDate): number {
  const days = dayNumberOf(date);
  if (days === undefined) throw new TypeError('not a YYYY-MM-DD date');
  return days;
}

function dateOfDayNumber(days: number): IndianDate {
  return new Date(days * DAY_MS).toISOString().slice(0, 10);
}

/** A date from a request: a real calendar date written `YYYY-MM-DD`, else INVALID_ARGUMENT. */
export function parseIndianDate(value: string, field = 'administered_on'): IndianDate {
  if (dayNumberOf(value) === undefined) {
    throw invalidArgument(`${field} must be a calendar date written YYYY-MM-DD`, {
      reason: 'INVALID_DATE',
    });
  }
  return value;
}

/** The date in India at an instant: what a caller passes as `today`. */
export function indianDateOf(now: Date): IndianDate {
  return new Date(now.getTime() + IST_OFFSET_MS).toISOString().slice(0, 10);
}

/** Whole days from one date to a later one (negative if it is earlier). */
export function daysBetween(from: IndianDate, to: IndianDate): number {
  return dayNumber(to) - dayNumber(from);
}

export function addDays(date: IndianDate, days: number): IndianDate {
  return dateOfDayNumber(dayNumber(date) + days);
}

function yearOf(date: IndianDate): number {
  return Number(date.slice(0, 4));
}

function later(a: IndianDate, b: IndianDate): IndianDate {
  return a >= b ? a : b;
}

/** A dose is given on a day of the programme: not before it began, not after today. */
export function checkDoseDate(date: IndianDate, today: IndianDate): void {
  if (date < PROGRAMME_START) {
    throw failedPrecondition(
      `a dose cannot be dated before the programme began on ${PROGRAMME_START}`,
      { reason: 'DATE_BEFORE_PROGRAMME' },
    );
  }
  if (date > today) {
    throw failedPrecondition('a dose cannot be dated in the future (dates are in India)', {
      reason: 'DATE_IN_FUTURE',
    });
  }
}

// ---- Age, by year of birth ----------------------------------------------------------

/**
 * The precaution dose is for adults: 18 and over since 10 April 2022 (MoHFW; it began on
 * 10 January 2022 for health-care and front-line workers and those 60 and over), and
 * Corbevax's heterologous precaution dose is "for population above 18 years" (MoHFW,
 * 10 August 2022).
 */
export const PRECAUTION_DOSE_MINIMUM_AGE_YEARS = 18;

/**
 * The age a person reaches in the calendar year of a date: all the register can tell, as
 * it holds only a year of birth. On the date itself the person is this age or one year
 * younger. We resolve that year the way MoHFW's programme did: by year of birth ("all
 * beneficiaries born in 2010 or earlier" for 12 and over in 2022; "born in 2007 or
 * earlier" for 15 and over), which is also how identity registers beneficiaries
 * (eligible from 1 January of the year they turn 12). The rule never guesses a birthday:
 * one who turns 12 on 31 December is eligible from 1 January, and one who turned 12 last
 * year is never refused.
 */
export function ageReachedInYearOf(date: IndianDate, birthYear: number): number {
  return yearOf(date) - birthYear;
}

/** The first date a person born in `birthYear` may be given a dose from `minimumAge`. */
export function eligibleFrom(birthYear: number, minimumAge: number): IndianDate {
  return `${String(birthYear + minimumAge).padStart(4, '0')}-01-01`;
}

/** The minimum age for a dose: the vaccine's, and 18 for the precaution dose. */
export function minimumAgeFor(vaccineCode: VaccineCode, series: DoseSeries): number {
  const vaccineMinimum = VACCINES[vaccineCode].minimumAgeYears;
  return series === 'PRECAUTION'
    ? Math.max(vaccineMinimum, PRECAUTION_DOSE_MINIMUM_AGE_YEARS)
    : vaccineMinimum;
}

/** Refuses a dose to one who does not reach its minimum age in the year of the dose. */
export function checkAge(
  vaccineCode: VaccineCode,
  series: DoseSeries,
  birthYear: number,
  date: IndianDate,
): void {
  const minimum = minimumAgeFor(vaccineCode, series);
  if (ageReachedInYearOf(date, birthYear) < minimum) {
    const dose =
      series === 'PRECAUTION' ? 'the precaution dose' : VACCINES[vaccineCode].displayName;
    throw failedPrecondition(
      `${dose} is given from the age of ${minimum}, counted by year of birth: the beneficiary must turn ${minimum} in the year of the dose or earlier`,
      { reason: 'BELOW_MINIMUM_AGE' },
    );
  }
}

// ---- Doses in sequence --------------------------------------------------------------

/** Doses 1 and 2 are the primary series (every vaccine in the catalogue has 2). */
export const PRIMARY_SERIES_DOSES = 2;
/** Dose 3 is the precaution dose, the last: MoHFW never offered a fourth. */
export const PRECAUTION_DOSE_NUMBER = 3;

export function seriesOf(doseNumber: number): DoseSeries {
  return doseNumber <= PRIMARY_SERIES_DOSES ? 'PRIMARY' : 'PRECAUTION';
}

/** A dose number from a request: a whole number from 1. */
export function parseDoseNumber(doseNumber: number): number {
  if (!Number.isInteger(doseNumber) || doseNumber < 1) {
    throw invalidArgument('dose_number must be a whole number from 1', {
      reason: 'INVALID_DOSE_NUMBER',
    });
  }
  return doseNumber;
}

/**
 * Doses are recorded in order: dose n follows dose n-1, with no gap and no repeat, and
 * nothing follows the precaution dose. `history` holds the beneficiary's other doses
 * (for a correction, all but the dose corrected).
 */
export function checkSequence(history: readonly ScheduledDose[], doseNumber: number): void {
  if (doseNumber > PRECAUTION_DOSE_NUMBER) {
    throw failedPrecondition(
      `no dose is given after the precaution dose: the programme has ${PRIMARY_SERIES_DOSES} primary doses and 1 precaution dose`,
      { reason: 'NO_DOSE_AFTER_PRECAUTION' },
    );
  }
  if (history.some((dose) => dose.doseNumber === doseNumber)) {
    throw failedPrecondition(`dose ${doseNumber} is already recorded; a dose is not repeated`, {
      reason: 'DOSE_ALREADY_RECORDED',
    });
  }
  if (doseNumber > 1 && !history.some((dose) => dose.doseNumber === doseNumber - 1)) {
    throw failedPrecondition(
      `dose ${doseNumber} must follow dose ${doseNumber - 1}: doses are recorded in order, without gaps`,
      { reason: 'DOSE_OUT_OF_SEQUENCE' },
    );
  }
}

/** At most one dose a day: no vaccine is given twice, or with another, on one day. */
export function checkOneDosePerDay(history: readonly ScheduledDose[], date: IndianDate): void {
  if (history.some((dose) => dose.administeredOn === date)) {
    throw failedPrecondition('at most one dose is given to a beneficiary on one day', {
      reason: 'ONE_DOSE_PER_DAY',
    });
  }
}

// ---- The primary series -------------------------------------------------------------

/**
 * Both primary doses are of the same vaccine: MoHFW's COVID-19 Vaccines Operational
 * Guidelines (December 2020) do not permit interchanging vaccines, the second dose being
 * of the vaccine of the first, and Sputnik V's two components are not interchangeable.
 */
export function checkPrimarySeries(first: ScheduledDose, second: ScheduledDose): void {
  if (second.vaccineCode !== first.vaccineCode) {
    throw failedPrecondition(
      'both doses of the primary series must be of the same vaccine (no mixing in the primary series)',
      { reason: 'PRIMARY_SERIES_MIXED' },
    );
  }
  const { displayName, secondDoseInterval } = VACCINES[first.vaccineCode];
  const days = daysBetween(first.administeredOn, second.administeredOn);
  const window = `${secondDoseInterval.minDays} to ${secondDoseInterval.maxDays} days after dose 1`;
  if (days < secondDoseInterval.minDays) {
    throw failedPrecondition(`${displayName} dose 2 is given ${window}: this is too early`, {
      reason: 'DOSE_INTERVAL_TOO_SHORT',
    });
  }
  if (days > secondDoseInterval.maxDays) {
    throw failedPrecondition(`${displayName} dose 2 is given ${window}: this is too late`, {
      reason: 'DOSE_INTERVAL_TOO_LONG',
    });
  }
}

// ---- The precaution dose ------------------------------------------------------------

/**
 * The precaution dose is given 26 weeks (6 months) after dose 2 or later: MoHFW, 6 July
 * 2022, for everyone 18 and over. It had been 39 weeks (9 months) from its start on 10
 * January 2022; the current interval applies to every precaution dose. There is no
 * latest day.
 */
export const PRECAUTION_DOSE_MIN_DAYS = 26 * 7;

/**
 * The precaution dose is of the primary series' vaccine ("vaccination of precaution dose
 * should be with the same vaccine with which primary vaccination was done", MoHFW, 14
 * March 2022), except that Corbevax may follow two doses of Covishield or of Covaxin
 * (MoHFW, 10 August 2022; on CoWIN from 12 August 2022), the only heterologous precaution
 * dose India allowed.
 */
export const HETEROLOGOUS_PRECAUTION_DOSES: Readonly<Record<VaccineCode, readonly VaccineCode[]>> =
  {
    COVISHIELD: ['CORBEVAX'],
    COVAXIN: ['CORBEVAX'],
    CORBEVAX: [],
    SPUTNIK_V: [],
  };

/**
 * The vaccines a precaution dose may be after a primary series of `primary`. For Sputnik V
 * MoHFW named no component for a homologous precaution dose; the register records the
 * vaccine, as it does for the primary doses.
 */
export function precautionDoseVaccines(primary: VaccineCode): readonly VaccineCode[] {
  return [primary, ...HETEROLOGOUS_PRECAUTION_DOSES[primary]];
}

export function checkPrecautionDose(secondDose: ScheduledDose, precaution: ScheduledDose): void {
  const allowed = precautionDoseVaccines(secondDose.vaccineCode);
  if (!allowed.includes(precaution.vaccineCode)) {
    throw failedPrecondition(
      `the precaution dose after a ${VACCINES[secondDose.vaccineCode].displayName} primary series must be ${allowed.map((code) => VACCINES[code].displayName).join(' or ')}`,
      { reason: 'PRECAUTION_VACCINE_NOT_ALLOWED' },
    );
  }
  if (
    daysBetween(secondDose.administeredOn, precaution.administeredOn) < PRECAUTION_DOSE_MIN_DAYS
  ) {
    throw failedPrecondition(
      `the precaution dose is given ${PRECAUTION_DOSE_MIN_DAYS} days (26 weeks) or more after dose 2`,
      { reason: 'PRECAUTION_DOSE_TOO_EARLY' },
    );
  }
}

// ---- Batch numbers ------------------------------------------------------------------

/**
 * A batch (lot) number as printed on the vial, e.g. Covishield `4121Z025`: 4 to 20
 * letters and digits, with single `-` or `/` between them (never at either end), compared
 * and stored in uppercase. Bounded so that the field carries a batch number and nothing
 * else; it goes into FHIR Immunization.lotNumber.
 */
export const BATCH_NUMBER_LENGTH = { min: 4, max: 20 } as const;
const BATCH_NUMBER_FORMAT = new RegExp(
  `^(?=.{${BATCH_NUMBER_LENGTH.min},${BATCH_NUMBER_LENGTH.max}}$)[A-Z0-9]+(?:[-/][A-Z0-9]+)*$`,
);

/** A batch number as it is compared and stored: NFKC, trimmed, uppercase; not checked. */
export function canonicalBatchNumber(batchNumber: string): string {
  return batchNumber.normalize('NFKC').trim().toUpperCase();
}

/** The fields of a request that say what it asks for: everything but its id. */
type DoseRequestPayload = Omit<DoseRequest, 'clientRequestId'>;

/**
 * Whether two requests under one `clientRequestId` ask for the same thing, so the second
 * is a retry of the first and gets the first one's record; if not, the second is refused.
 * Batch numbers are compared in their canonical form (a retry typed `ab12` and stored as
 * `AB12` is the same request); every other field must be identical. Works on a stored
 * request or on the dose it recorded, which carries the same fields.
 */
export function sameDoseRequest(a: DoseRequestPayload, b: DoseRequestPayload): boolean {
  return (
    a.beneficiaryRef === b.beneficiaryRef &&
    a.vaccineCode === b.vaccineCode &&
    a.doseNumber === b.doseNumber &&
    a.administeredOn === b.administeredOn &&
    canonicalBatchNumber(a.batchNumber) === canonicalBatchNumber(b.batchNumber) &&
    a.centreId === b.centreId &&
    a.vaccinatorRef === b.vaccinatorRef
  );
}

/**
 * The batch number in canonical form, or INVALID_ARGUMENT (a malformed field, whatever the
 * schedule; the refusal does not echo it).
 */
export function normaliseBatchNumber(batchNumber: string): string {
  const canonical = canonicalBatchNumber(batchNumber);
  if (!BATCH_NUMBER_FORMAT.test(canonical)) {
    throw invalidArgument(
      `batch_number must be ${BATCH_NUMBER_LENGTH.min} to ${BATCH_NUMBER_LENGTH.max} letters and digits, with single - or / between them`,
      { reason: 'INVALID_BATCH_NUMBER' },
    );
  }
  return canonical;
}

// ---- Checking a dose ----------------------------------------------------------------

/** What the rules need to know besides the doses: today in India and the year of birth. */
export interface DoseContext {
  readonly today: IndianDate;
  readonly birthYear: number;
}

function parseBirthYear(birthYear: number, today: IndianDate): number {
  if (!Number.isInteger(birthYear) || birthYear > yearOf(today)) {
    throw invalidArgument('year_of_birth must be a year no later than this year', {
      reason: 'INVALID_YEAR_OF_BIRTH',
    });
  }
  return birthYear;
}

/** The rules between one dose and the next one. */
function checkConsecutive(previous: ScheduledDose, next: ScheduledDose): void {
  if (next.doseNumber <= PRIMARY_SERIES_DOSES) checkPrimarySeries(previous, next);
  else checkPrecautionDose(previous, next);
}

/**
 * Checks a proposed dose against the beneficiary's other doses and returns it in normal
 * form, or throws: INVALID_ARGUMENT for a malformed field (an unknown vaccine code, a
 * date that is not `YYYY-MM-DD`, a bad batch number), FAILED_PRECONDITION naming the
 * schedule rule it breaks.
 *
 * `history` holds the doses already recorded; for CorrectDose, all of them but the dose
 * corrected. A corrected dose is checked against the dose before it and the dose after
 * it, so a correction cannot break the rules for a later dose either.
 */
export function checkDose(
  history: readonly ScheduledDose[],
  proposed: ProposedDose,
  context: DoseContext,
): CheckedDose {
  const today = parseIndianDate(context.today, 'today');
  const vaccineCode = parseVaccineCode(proposed.vaccineCode);
  const doseNumber = parseDoseNumber(proposed.doseNumber);
  const administeredOn = parseIndianDate(proposed.administeredOn);
  const batchNumber = normaliseBatchNumber(proposed.batchNumber);
  const birthYear = parseBirthYear(context.birthYear, today);
  const dose: ScheduledDose = { vaccineCode, doseNumber, administeredOn };
  const series = seriesOf(doseNumber);

  checkDoseDate(administeredOn, today);
  checkSequence(history, doseNumber);
  checkAge(vaccineCode, series, birthYear, administeredOn);
  checkOneDosePerDay(history, administeredOn);
  const previous = history.find((other) => other.doseNumber === doseNumber - 1);
  if (previous) checkConsecutive(previous, dose);
  const next = history.find((other) => other.doseNumber === doseNumber + 1);
  if (next) checkConsecutive(dose, next);

  return { ...dose, batchNumber, series };
}

// ---- The next dose due --------------------------------------------------------------

/** One vaccine that may be given as the next dose, and its window. */
export interface DoseOption {
  readonly vaccineCode: VaccineCode;
  readonly earliest: IndianDate;
  /** Absent where no latest day applies (dose 1, the precaution dose). */
  readonly latest?: IndianDate;
}

export interface DoseDue {
  readonly complete: false;
  readonly doseNumber: number;
  readonly series: DoseSeries;
  /** The first day any option opens. */
  readonly earliest: IndianDate;
  /** The last day, where one applies to every option (dose 2). */
  readonly latest?: IndianDate;
  /** Every vaccine that may be given as this dose, each with its own window (ages differ). */
  readonly options: readonly DoseOption[];
}

export type NextDose = DoseDue | { readonly complete: true };

function dueAfter(
  doseNumber: number,
  options: readonly DoseOption[],
  latest?: IndianDate,
): DoseDue {
  const earliest = options.map((option) => option.earliest).reduce((a, b) => (a <= b ? a : b));
  const due: DoseDue = {
    complete: false,
    doseNumber,
    series: seriesOf(doseNumber),
    earliest,
    options,
  };
  return latest === undefined ? due : { ...due, latest };
}

/**
 * The dose a beneficiary may have next and when, by the same rules as `checkDose`; or
 * `complete` after the precaution dose. The window may lie in the past (a dose 2 whose
 * latest day has gone); the caller compares it with today. `history` is the beneficiary's
 * recorded doses, which the rules have already admitted.
 */
export function nextDoseDue(
  history: readonly ScheduledDose[],
  { birthYear }: { readonly birthYear: number },
): NextDose {
  const last = history.reduce<ScheduledDose | undefined>(
    (latest, dose) => (latest && latest.doseNumber >= dose.doseNumber ? latest : dose),
    undefined,
  );
  if (last === undefined) {
    return dueAfter(
      1,
      VACCINE_CODES.map((vaccineCode) => ({
        vaccineCode,
        earliest: later(
          PROGRAMME_START,
          eligibleFrom(birthYear, minimumAgeFor(vaccineCode, 'PRIMARY')),
        ),
      })),
    );
  }
  if (last.doseNumber >= PRECAUTION_DOSE_NUMBER) return { complete: true };
  const doseNumber = last.doseNumber + 1;
  if (seriesOf(doseNumber) === 'PRIMARY') {
    const { minDays, maxDays } = VACCINES[last.vaccineCode].secondDoseInterval;
    const latest = addDays(last.administeredOn, maxDays);
    const earliest = later(
      addDays(last.administeredOn, minDays),
      eligibleFrom(birthYear, minimumAgeFor(last.vaccineCode, 'PRIMARY')),
    );
    return dueAfter(doseNumber, [{ vaccineCode: last.vaccineCode, earliest, latest }], latest);
  }
  return dueAfter(
    doseNumber,
    precautionDoseVaccines(last.vaccineCode).map((vaccineCode) => ({
      vaccineCode,
      earliest: later(
        addDays(last.administeredOn, PRECAUTION_DOSE_MIN_DAYS),
        eligibleFrom(birthYear, minimumAgeFor(vaccineCode, 'PRECAUTION')),
      ),
    })),
  );
}
