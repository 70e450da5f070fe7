import type { Server } from 'node:http';

/** An HTTP server listening: its port (the one picked when 0 was asked) and its close. */
export interface LoopbackHttp {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Starts `server` at `port` (0: any free port) on `host`, 127.0.0.1 unless the
 * service's HTTP_BIND_HOST says otherwise, for the read-only HTTP a service serves
 * beside its gRPC (metrics, issuer keys, the audit log's tiles). Rejects when the port
 * cannot be taken.
 */
export async function listenOnLoopback(
  server: Server,
  port: number,
  host = '127.0.0.1',
): Promise<LoopbackHttp> {
  const bound = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
  return {
    port: bound,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
