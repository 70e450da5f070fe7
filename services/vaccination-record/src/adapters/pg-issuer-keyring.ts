import {
  exportIssuerKey,
  generateIssuerKey,
  importIssuerKey,
  type IssuerKey,
  type IssuerPublicJwk,
} from '@vaxguard/health-cards';
import { withTransaction, type Pool } from '@vaxguard/db';
import type { Sealer } from '@vaxguard/sealing';
import type { IssuerKeyring, KeyPublication } from '../domain/model';

// New keys are made one at a time across instances.
const KEY_LOCK = 'vaxguard/vaccination-record/issuer-keys';
const sealedKeyContext = (kid: string) => `issuer-key/${kid}`;

/**
 * The SMART Health Card issuer keys in PostgreSQL: the private JWK sealed under the
 * key-encryption key (bound to its kid), the public half and the revocation list's
 * counter in clear, and each list read from the version a reader holds. The newest key signs; older ones stay published so the cards they
 * signed keep verifying (rotation with overlap).
 */
/** The sealer context of the issuer's private keys (HKDF info under the service's KEK). */
export const ISSUER_KEY_CONTEXT = 'vaxguard/vaccination-record/issuer-keys';

export class PgIssuerKeyring implements IssuerKeyring {
  // Keys never change once made; opened ones are kept.
  private readonly opened = new Map<string, IssuerKey>();

  constructor(
    private readonly pool: Pool,
    private readonly sealer: Sealer,
    private readonly clock: () => Date,
  ) {}

  /** Makes the first key when there is none (every instance at start; one wins). */
  async ensureKey(): Promise<void> {
    await withTransaction(this.pool, async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [KEY_LOCK]);
      const { rows } = await tx.query('SELECT 1 FROM issuer_keys LIMIT 1');
      if (rows.length === 0) await this.insertKey(tx);
    });
  }

  /** A new key signs from now on; the previous ones stay published. Returns the new kid. */
  async rotate(): Promise<string> {
    return withTransaction(this.pool, async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [KEY_LOCK]);
      return this.insertKey(tx);
    });
  }

  private async insertKey(tx: Pick<Pool, 'query'>): Promise<string> {
    const key = generateIssuerKey();
    const sealed = this.sealer.seal(
      Buffer.from(JSON.stringify(exportIssuerKey(key))),
      sealedKeyContext(key.kid),
    );
    await tx.query(
      `INSERT INTO issuer_keys (kid, public_jwk, private_sealed, created_at) VALUES ($1, $2, $3, $4)`,
      [key.kid, JSON.stringify(key.publicJwk), sealed, this.clock()],
    );
    this.opened.set(key.kid, key);
    return key.kid;
  }

  async current(): Promise<IssuerKey> {
    const { rows } = await this.pool.query<{ kid: string }>(
      'SELECT kid FROM issuer_keys ORDER BY created_at DESC, kid LIMIT 1',
    );
    const kid = rows[0]?.kid;
    const key = kid ? await this.byKid(kid) : undefined;
    if (!key) throw new Error('no issuer key: ensureKey() runs at start');
    return key;
  }

  async byKid(kid: string): Promise<IssuerKey | undefined> {
    const known = this.opened.get(kid);
    if (known) return known;
    const { rows } = await this.pool.query<{ private_sealed: Buffer }>(
      'SELECT private_sealed FROM issuer_keys WHERE kid = $1',
      [kid],
    );
    const row = rows[0];
    if (!row) return undefined;
    const jwk: unknown = JSON.parse(
      this.sealer.open(row.private_sealed, sealedKeyContext(kid)).toString('utf8'),
    );
    const key = importIssuerKey(jwk);
    this.opened.set(kid, key);
    return key;
  }

  /**
   * Every key and the rids its list gained after the version the caller holds: the keys
   * and their counters, then, for each key whose counter moved, its rids between the
   * version held and the counter read, by index (revoked_rids_by_version), never by
   * aggregating the whole list again. A revocation bumps its key's crl_version first,
   * holding that row's lock to its commit, and its rid carries the version it got
   * (vaccination-record/0005): a key's versions commit in order, so once a counter is
   * read every rid up to it is there, and the bound keeps out any committed since.
   * (One statement joining the two planned the rids' scan for an unknown version:
   * every rid of the key read, 200 ms at 10^5 where this takes about one.)
   */
  async publishedSince(known: ReadonlyMap<string, number>): Promise<readonly KeyPublication[]> {
    const { rows } = await this.pool.query<{
      kid: string;
      public_jwk: IssuerPublicJwk | null;
      crl_version: number;
    }>(
      `SELECT kid, CASE WHEN kid = ANY ($1::text[]) THEN NULL ELSE public_jwk END AS public_jwk,
              crl_version
         FROM issuer_keys ORDER BY created_at DESC, kid`,
      [[...known.keys()]],
    );
    return Promise.all(
      rows.map(async (row) => {
        const held = known.get(row.kid) ?? 0;
        const added =
          row.crl_version > held
            ? (
                await this.pool.query<{ rid: string }>(
                  `SELECT rid FROM revoked_rids
                    WHERE kid = $1 AND crl_version > $2 AND crl_version <= $3
                    ORDER BY crl_version`,
                  [row.kid, held, row.crl_version],
                )
              ).rows.map((rid) => rid.rid)
            : [];
        return {
          kid: row.kid,
          publicJwk: row.public_jwk ?? undefined,
          crlVersion: row.crl_version,
          added,
        };
      }),
    );
  }
}
