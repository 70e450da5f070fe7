import { createServer, type Server } from 'node:http';
import type { Logger } from '@vaxguard/logging';
import type { CertificateService } from '../domain/certificate-service';

/**
 * The issuer's keys and revocation lists over plain HTTP on localhost, at the paths
 * SMART Health Card verifiers fetch: `<issuer path>/.well-known/jwks.json` and
 * `<issuer path>/.well-known/crl/<kid>.json`. With a loopback issuer on this port (the
 * development exception, see config.ts) those are `iss` + the same suffixes exactly.
 * Read-only, public data, GET only.
 */
export async function startIssuerHttp(options: {
  readonly records: Pick<CertificateService, 'issuerKeys' | 'revocationList'>;
  readonly issuer: string;
  readonly port: number;
  readonly logger: Logger;
}): Promise<{ readonly port: number; close(): Promise<void> }> {
  const base = new URL(options.issuer).pathname.replace(/\/$/, '');
  const jwksPath = `${base}/.well-known/jwks.json`;
  const crlPath = new RegExp(
    `^${escapeRegExp(base)}/\\.well-known/crl/([A-Za-z0-9_-]{1,64})\\.json$`,
  );
  const server: Server = createServer((request, response) => {
    const send = (status: number, body: unknown) => {
      response.writeHead(status, {
        'content-type': 'application/json',
        'access-control-allow-origin': '*',
      });
      response.end(JSON.stringify(body));
    };
    if (request.method !== 'GET') return send(405, { error: 'GET only' });
    const url = new URL(request.url ?? '/', 'http://localhost');
    const crl = crlPath.exec(url.pathname);
    const answer =
      url.pathname === jwksPath
        ? options.records.issuerKeys()
        : crl?.[1]
          ? options.records.revocationList(crl[1])
          : undefined;
    if (!answer) return send(404, { error: 'not found' });
    answer.then(
      (body) => send(200, body),
      (error: unknown) => {
        const code = (error as { code?: unknown }).code;
        if (code === 'NOT_FOUND') return send(404, { error: 'not found' });
        options.logger.error('issuer http failed', { err: error });
        send(500, { error: 'internal error' });
      },
    );
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : options.port);
    });
  });
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
