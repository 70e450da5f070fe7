import { canonicalBatchNumber } from './schedule-rules';
import { type VaccineCode } from './vaccines';

/**
 * The dose types of the vaccination-record domain: what a vaccinator asks to record, what
 * the register holds, and what the schedule rules read and return.
 */

/**
 * A calendar date, `YYYY-MM-DD`, in India Standard Time: the day the dose was given where
 * it was given. A dose has a date, not an instant (FHIR occurrenceDateTime allows a date).
 */
export type IndianDate = string;

/** The two parts of the programme: doses 1 and 2, then the one precaution dose. */
export type DoseSeries = 'PRIMARY' | 'PRECAUTION';

/** The facts of a dose that the schedule rules read. */
export interface ScheduledDose {
  readonly vaccineCode: VaccineCode;
  readonly doseNumber: number;
  readonly administeredOn: IndianDate;
}

/** A dose as a caller proposes it, before any check: codes and dates as received. */
export interface ProposedDose {
  readonly vaccineCode: string;
  readonly doseNumber: number;
  readonly administeredOn: string;
  readonly batchNumber: string;
}

/** A proposed dose that passed every schedule rule, in normal form. */
export interface CheckedDose extends ScheduledDose {
  /** Uppercase, trimmed, in the batch-number format. */
  readonly batchNumber: string;
  readonly series: DoseSeries;
}

/**
 * A request to record one dose (RecordDose). `clientRequestId` makes it idempotent: the
 * same request again returns the same record, and a different payload under the same id
 * is refused (see `sameDoseRequest`).
 */
export interface DoseRequest extends ProposedDose {
  readonly clientRequestId: string;
  readonly beneficiaryRef: string;
  readonly centreId: string;
  readonly vaccinatorRef: string;
}

/** A dose in the register. */
export interface RecordedDose extends CheckedDose {
  readonly doseId: string;
  readonly beneficiaryRef: string;
  readonly centreId: string;
  readonly vaccinatorRef: string;
  /** The id of the request that recorded it, kept to answer that request's retries. */
  readonly clientRequestId: string;
  readonly recordedAt: Date;
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
