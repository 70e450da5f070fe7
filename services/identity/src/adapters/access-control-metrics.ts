import type { Queryable } from '@vaxguard/db';
import { Gauge, type Registry } from '@vaxguard/metrics';

/** The kinds of principal a suspension names (principal_suspensions' CHECK). */
const PRINCIPAL_KINDS = ['STAFF', 'PARTNER_CLIENT'] as const;

/**
 * Suspensions and API locks in force, counted from their tables (a row each while in
 * force) on the runtime's beat: a burst of suspensions, whoever made them (an operator
 * or audit's automatic response), shows as this gauge climbing.
 */
export class AccessControlMetrics {
  private readonly suspensions: Gauge<'principal_kind'>;
  private readonly apiLocks: Gauge;

  constructor(
    private readonly db: Queryable,
    registry: Registry,
  ) {
    this.suspensions = new Gauge({
      name: 'vaxguard_identity_suspensions_in_force',
      help: 'Principals suspended now, by kind (staff, partner client).',
      labelNames: ['principal_kind'],
      registers: [registry],
    });
    this.apiLocks = new Gauge({
      name: 'vaxguard_identity_api_locks_in_force',
      help: 'API locks in force now.',
      registers: [registry],
    });
  }

  async sample(): Promise<void> {
    const { rows } = await this.db.query<{ principal_kind: string; n: string }>(
      `SELECT principal_kind, count(*) AS n FROM principal_suspensions GROUP BY principal_kind
       UNION ALL SELECT 'API_LOCK', count(*) FROM api_locks`,
    );
    const count = (kind: string) => Number(rows.find((row) => row.principal_kind === kind)?.n ?? 0);
    for (const kind of PRINCIPAL_KINDS) {
      this.suspensions.set({ principal_kind: kind }, count(kind));
    }
    this.apiLocks.set(count('API_LOCK'));
  }
}
