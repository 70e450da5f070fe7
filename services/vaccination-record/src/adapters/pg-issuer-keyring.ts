import {
  addRevocations,
  createRevocationList,
  exportIssuerKey,
  generateIssuerKey,
  importIssuerKey,
  jwksOf,
  type IssuerKey,
  type IssuerPublicJwk,
  type RevocationList,
} from '@vaxguard/health-cards';
import { withTransaction, type Pool } from '@vaxguard/db';
import type { Sealer } from '@vaxguard/sealing';
import type { IssuerKeyring } from '../domain/model';

// New keys are made one at a time across instances.
const KEY_LOCK = 'vaxguard/vaccination-record/issuer-keys';
const sealedKeyContext = (kid: string) => `issuer-key/${kid}`;

/**
 * The SMART Health Card issuer keys in PostgreSQL: the private JWK sealed under the
 * key-encryption key (bound to its kid), the public half and the revocation list's
 * counter in clear. The newest key signs; older ones stay published so the cards they
 * signed keep verifying (rotation with overlap).
 */
/** The sealer context of the issuer's private keys (HKDF info under the service's KEK). */
export const ISSUER_KEY_CONTEXT = 'vaxguard/vaccination-record/issuer-keys';

export class PgIssuerKeyring implements IssuerKeyring {
  // Keys never change once made; opened ones are kept.
  private readonly opened = new Map<string, IssuerKey>();
  private lastPublished: { state: string; published: Published } | undefined;

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
   * The JWKS and every key's revocation list. Each revocation bumps its key's counter in
   * the transaction that records it, so the keys and their counters name the whole state:
   * while they are unchanged, the lists built last time are served again and only the
   * small `issuer_keys` table is read, not every revoked rid.
   */
  async published(): Promise<Published> {
    const { rows } = await this.pool.query<{ kid: string; crl_version: number }>(
      'SELECT kid, crl_version FROM issuer_keys',
    );
    const cached = this.lastPublished;
    if (cached && cached.state === stateOf(rows)) return cached.published;
    const built = await this.buildPublished();
    this.lastPublished = built;
    return built.published;
  }

  private async buildPublished(): Promise<{ state: string; published: Published }> {
    const { rows } = await this.pool.query<{
      kid: string;
      public_jwk: IssuerPublicJwk;
      crl_version: number;
      rids: string[] | null;
    }>(
      `SELECT k.kid, k.public_jwk, k.crl_version,
              array_agg(r.rid ORDER BY r.revoked_at, r.rid) FILTER (WHERE r.rid IS NOT NULL) AS rids
       FROM issuer_keys k LEFT JOIN revoked_rids r ON r.kid = k.kid
       GROUP BY k.kid ORDER BY min(k.created_at) DESC`,
    );
    const crlVersions: Record<string, number> = {};
    const revocationLists: Record<string, RevocationList> = {};
    for (const row of rows) {
      crlVersions[row.kid] = row.crl_version;
      const rids = (row.rids ?? []).map((rid) => ({ rid }));
      const list = addRevocations(createRevocationList(row.kid), rids);
      // The stored counter is the published one: it counts every update, not distinct rids.
      revocationLists[row.kid] = { ...list, ctr: row.crl_version };
    }
    return {
      // The state these lists were read at, from the same statement's rows.
      state: stateOf(rows),
      published: {
        jwks: jwksOf(
          rows.map((row) => row.public_jwk),
          crlVersions,
        ),
        revocationLists,
      },
    };
  }
}

type Published = Awaited<ReturnType<IssuerKeyring['published']>>;

/** The keys and their revocation counters, in one string: equal strings, equal lists. */
function stateOf(rows: readonly { kid: string; crl_version: number }[]): string {
  return rows
    .map((row) => `${row.kid}:${row.crl_version}`)
    .sort()
    .join(',');
}
