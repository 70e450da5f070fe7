// A forward HTTP proxy whose connections to the site leave from a given loopback address,
// so a browser context behind it is, to the server, another client. Chromium cannot pick
// the source address of its connections (to 127.0.0.2 it still connects from 127.0.0.1),
// and Playwright routes even loopback through a context's proxy.
import { createServer, request as forward, type Server } from 'node:http';

export interface AddressProxy {
  /** `http://127.0.0.1:<port>`, for a context's `proxy.server`. */
  readonly url: string;
  stop(): Promise<void>;
}

export async function startAddressProxy(port: number, fromAddress: string): Promise<AddressProxy> {
  const server: Server = createServer((incoming, outgoing) => {
    // A proxy's request line carries the absolute URL.
    const target = new URL(incoming.url ?? '/');
    const upstream = forward(
      {
        host: target.hostname,
        port: target.port,
        method: incoming.method,
        path: `${target.pathname}${target.search}`,
        headers: incoming.headers,
        localAddress: fromAddress,
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    upstream.on('error', () => {
      outgoing.writeHead(502);
      outgoing.end();
    });
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
