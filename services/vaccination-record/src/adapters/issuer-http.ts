import { createServer, type Server } from 'node:http';
import type { Logger } from '@vaxguard/logging';
import { listenOnLoopback, type LoopbackHttp } from '@vaxguard/runtime';
import type { CertificateService } from '../domain/certificate-service';

/**
 * The issuer's keys and revocation lists over plain HTTP on localhost, at the paths
 * SMART Health Card verifiers fetch: `<issuer path>/.well-known/jwks.json` and
 * `<issuer path>/.well-known/crl/<kid>.json`. With a loopback issuer on this port (the
 * development exception, see config.ts) those are `iss` + the same suffixes exactly.
 * Read-only, public data, GET only; each answer carries a strong ETag, and a GET whose
 * If-None-Match names it is answered 304.
 */
export async function startIssuerHttp(options: {
  readonly records: Pick<CertificateService, 'issuerKeysDocument' | 'revocationListDocument'>;
  readonly issuer: string;
  readonly port: number;
  /** HTTP_BIND_HOST (default 127.0.0.1). */
  readonly host?: string;
  readonly logger: Logger;
}): Promise<LoopbackHttp> {
  const base = new URL(options.issuer).pathname.replace(/\/$/, '');
  const jwksPath = `${base}/.well-known/jwks.json`;
  const crlPath = new RegExp(
    `^${escapeRegExp(base)}/\\.well-known/crl/([A-Za-z0-9_-]{1,64})\\.json$`,
  );
  const server: Server = createServer((request, response) => {
    const headers = {
      'content-type': 'application/json',
      'access-control-allow-origin': '*',
    };
    const send = (status: number, body: unknown) => {
      response.writeHead(status, headers);
      response.end(JSON.stringify(body));
    };
    if (request.method !== 'GET') return send(405, { error: 'GET only' });
    const url = new URL(request.url ?? '/', 'http://localhost');
    const crl = crlPath.exec(url.pathname);
    const answer =
      url.pathname === jwksPath
        ? options.records.issuerKeysDocument()
        : crl?.[1]
          ? options.records.revocationListDocument(crl[1])
          : undefined;
    if (!answer) return send(404, { error: 'not found' });
    answer.then(
      (document) => {
        // Verifiers keep what they fetched and ask again with its ETag: while it is
        // unchanged they get 304 and no body; every cache revalidates (no-cache).
        const validators = { ...headers, etag: document.etag, 'cache-control': 'no-cache' };
        if (alreadyHeld(request.headers['if-none-match'], document.etag)) {
          response.writeHead(304, validators);
          response.end();
          return;
        }
        response.writeHead(200, {
          ...validators,
          'content-length': document.chunks.reduce((sum, chunk) => sum + chunk.length, 0),
        });
        // The bytes as kept, piece by piece: nothing is serialised or joined per GET.
        for (const chunk of document.chunks) response.write(chunk);
        response.end();
      },
      (error: unknown) => {
        const code = (error as { code?: unknown }).code;
        if (code === 'NOT_FOUND') return send(404, { error: 'not found' });
        options.logger.error('issuer http failed', { err: error });
        send(500, { error: 'internal error' });
      },
    );
  });
  return listenOnLoopback(server, options.port, options.host);
}

/**
 * Whether If-None-Match names the current ETag (RFC 9110 §13.1.2: a list, `*`, weak
 * comparison, so `W/"x"` matches `"x"`).
 */
function alreadyHeld(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === '*' || tag === etag);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
