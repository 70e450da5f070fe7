import type { Queryable } from '@vaxguard/db';
import { EVENTS, isEvent, STAFF_ROLE, type DecodedEvent } from '@vaxguard/event-catalogue';
import type {
  CentreEntry,
  Directory,
  DirectoryEntries,
  DirectoryIds,
  StaffEntry,
} from '../domain/access-history';
import { recordCitizenBeneficiaries } from './pg-access-history';

/**
 * Adds what these events announce to the directory, in the log's batch transaction,
 * and the beneficiaries citizens registered on their mobiles (for their access
 * history). Idempotent: an id already known keeps its first announcement (identity
 * never renames one), so a redelivered or replayed event changes nothing.
 */
export async function recordDirectory(
  tx: Queryable,
  events: readonly DecodedEvent[],
): Promise<void> {
  for (const event of events) {
    const eventId = event.envelope.eventId;
    if (isEvent(event, EVENTS.centreCreated)) {
      const { centreId, name, district, state } = event.payload;
      if (!centreId) continue;
      await tx.query(
        `INSERT INTO audit_directory_centres (centre_id, name, district, state, event_id)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (centre_id) DO NOTHING`,
        [centreId, name, district, state, eventId],
      );
    } else if (isEvent(event, EVENTS.staffCreated)) {
      const staffId = event.envelope.subject?.ref ?? '';
      if (!staffId) continue;
      await tx.query(
        `INSERT INTO audit_directory_staff (staff_id, role, centre_id, event_id)
         VALUES ($1, $2, $3, $4) ON CONFLICT (staff_id) DO NOTHING`,
        [staffId, STAFF_ROLE.fromProto(event.payload.role) ?? '', event.payload.centreId, eventId],
      );
    } else if (isEvent(event, EVENTS.partnerRegistered)) {
      const clientId = event.envelope.subject?.ref ?? '';
      // Registrations announced before partners were named leave the partner unnamed.
      if (!clientId || !event.payload.displayName) continue;
      await tx.query(
        `INSERT INTO audit_directory_partners (client_id, display_name, event_id)
         VALUES ($1, $2, $3) ON CONFLICT (client_id) DO NOTHING`,
        [clientId, event.payload.displayName, eventId],
      );
    }
  }
  await recordCitizenBeneficiaries(tx, events);
}

export class PgDirectory implements Directory {
  constructor(private readonly db: Queryable) {}

  async lookUp(ids: DirectoryIds): Promise<DirectoryEntries> {
    const staff = new Map<string, StaffEntry>();
    if (ids.staffIds.length > 0) {
      const { rows } = await this.db.query<{ staff_id: string; role: string; centre_id: string }>(
        `SELECT staff_id, role, centre_id FROM audit_directory_staff
         WHERE staff_id = ANY($1::text[])`,
        [ids.staffIds],
      );
      for (const row of rows) staff.set(row.staff_id, { role: row.role, centreId: row.centre_id });
    }
    const centreIds = new Set(ids.centreIds);
    for (const entry of staff.values()) if (entry.centreId) centreIds.add(entry.centreId);
    const centres = new Map<string, CentreEntry>();
    if (centreIds.size > 0) {
      const { rows } = await this.db.query<{
        centre_id: string;
        name: string;
        district: string;
        state: string;
      }>(
        `SELECT centre_id, name, district, state FROM audit_directory_centres
         WHERE centre_id = ANY($1::text[])`,
        [[...centreIds]],
      );
      for (const { centre_id, ...entry } of rows) centres.set(centre_id, entry);
    }
    const partners = new Map<string, string>();
    if (ids.partnerIds.length > 0) {
      const { rows } = await this.db.query<{ client_id: string; display_name: string }>(
        `SELECT client_id, display_name FROM audit_directory_partners
         WHERE client_id = ANY($1::text[])`,
        [ids.partnerIds],
      );
      for (const row of rows) partners.set(row.client_id, row.display_name);
    }
    return { centres, staff, partners };
  }
}
