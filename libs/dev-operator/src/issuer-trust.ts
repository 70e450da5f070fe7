// What a SMART Health Card verifier downloads to verify cards offline: the issuer's key
// set and the revocation list of each key that announces one.

/** The issuer's published keys and revocation lists, as fetched. */
export interface IssuerTrust {
  readonly jwks: unknown;
  /** Revocation lists by kid, for the keys whose JWK carries a `crlVersion`. */
  readonly revocations: Record<string, unknown>;
}

async function getJson(url: string): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    // fetch says only "fetch failed"; the socket's error (ECONNREFUSED...) is its cause.
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new Error(`GET ${url} failed: ${reason}`, { cause: error });
  }
  if (!response.ok) throw new Error(`GET ${url} answered HTTP ${response.status}`);
  return response.json();
}

/**
 * Fetches `<issuer>/.well-known/jwks.json` and, beside it, `crl/<kid>.json` of every key
 * announcing a revocation list. A failed request rejects, naming the URL.
 */
export async function fetchIssuerTrust(keysUrl: string): Promise<IssuerTrust> {
  const jwks = await getJson(keysUrl);
  const keys =
    jwks !== null && typeof jwks === 'object' && Array.isArray((jwks as { keys?: unknown }).keys)
      ? ((jwks as { keys: { kid?: unknown; crlVersion?: unknown }[] }).keys ?? [])
      : [];
  const revocations: Record<string, unknown> = {};
  for (const { kid, crlVersion } of keys) {
    if (typeof kid !== 'string' || crlVersion === undefined) continue;
    revocations[kid] = await getJson(keysUrl.replace(/jwks\.json$/, `crl/${kid}.json`));
  }
  return { jwks, revocations };
}
