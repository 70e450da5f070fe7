import { enumMapping } from '@vaxguard/event-catalogue';
import { vaccinationRecordV1 } from '@vaxguard/proto';
import type { RevocationCause } from '../domain/record-rules';

const { RevocationCause: Proto } = vaccinationRecordV1;

/** The revocation cause between the proto enum (requests, events) and the domain. */
export const REVOCATION_CAUSE = enumMapping<RevocationCause, vaccinationRecordV1.RevocationCause>({
  LEAKED: Proto.REVOCATION_CAUSE_LEAKED,
  FRAUDULENT: Proto.REVOCATION_CAUSE_FRAUDULENT,
  MISTAKEN_RECORD: Proto.REVOCATION_CAUSE_MISTAKEN_RECORD,
});
