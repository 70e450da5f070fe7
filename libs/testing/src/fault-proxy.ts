import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from './containers';

/**
 * How a cut network looks to the side that connects:
 * - `refuse`: open connections are reset and new ones refused (the peer is down, or a
 *   firewall rejects): the caller learns at once.
 * - `blackhole`: open connections go silent and new ones are accepted and never
 *   answered (a partition): the caller learns only from its own timeouts. When the
 *   network is restored the connections held through the cut are reset, as the far end
 *   forgot them meanwhile.
 */
export type CutMode = 'refuse' | 'blackhole';

export interface FaultProxy extends AsyncDisposable {
  /** Where the proxy listens: give this to the side that connects. */
  readonly address: string;
  readonly port: number;
  /** Where it forwards to. */
  readonly target: string;
  /** `open` while forwarding, else how it is cut. */
  readonly state: 'open' | CutMode;
  /** Connections accepted since start, and those open now (forwarding or held). */
  stats(): { readonly accepted: number; readonly open: number };
  /** Cuts the network: every open connection dropped, new ones refused or held. */
  cut(mode?: CutMode): Promise<void>;
  /** Forwards again (new connections; those held through a blackhole are reset). */
  restore(): Promise<void>;
  stop(): Promise<void>;
}

const say = (message: string) => process.stdout.write(`[fault-proxy] ${message}\n`);

interface Link {
  readonly client: Socket;
  upstream: Socket | undefined;
}

/**
 * A TCP proxy on loopback between a process and something it talks to (PostgreSQL, a
 * Kafka listener), whose network a test cuts and restores: real sockets, real resets
 * and real silence, with no privileges and no container network to rewire.
 */
export async function startFaultProxy(options: {
  /** `host:port` to forward to. */
  readonly target: string;
  /** The port to listen on (a Kafka listener advertises it before the proxy starts). */
  readonly port?: number;
  /** What the proxy stands for, in its log lines. */
  readonly name?: string;
}): Promise<FaultProxy> {
  const separator = options.target.lastIndexOf(':');
  const targetHost = options.target.slice(0, separator);
  const targetPort = Number(options.target.slice(separator + 1));
  if (separator < 1 || !Number.isInteger(targetPort) || targetPort <= 0)
    throw new Error(`fault proxy target must be host:port, not ${options.target}`);
  const port = options.port ?? (await freePort());
  const name = options.name ?? options.target;
  const links = new Set<Link>();
  let state: 'open' | CutMode = 'open';
  let accepted = 0;
  let server: Server | undefined;
  let stopped = false;

  const drop = (link: Link): void => {
    links.delete(link);
    link.upstream?.destroy();
    if (!link.client.destroyed) link.client.resetAndDestroy();
  };
  // Silence: nothing more crosses, the far end is let go, and the near end is kept open
  // and unread, so the process that connected waits as it would behind a partition.
  const hold = (link: Link): void => {
    link.client.unpipe();
    link.upstream?.unpipe();
    link.upstream?.destroy();
    link.upstream = undefined;
    link.client.pause();
  };
  const forward = (client: Socket): void => {
    const link: Link = { client, upstream: undefined };
    links.add(link);
    accepted++;
    client.setNoDelay(true);
    client.on('error', () => drop(link));
    client.on('close', () => drop(link));
    if (state === 'blackhole') return hold(link);
    const upstream = connect({ host: targetHost, port: targetPort });
    link.upstream = upstream;
    upstream.setNoDelay(true);
    // The far end gone (or never reached) is a reset for the near end, as a direct
    // connection would see it.
    upstream.on('error', () => link.upstream === upstream && drop(link));
    upstream.on('close', () => link.upstream === upstream && drop(link));
    client.pipe(upstream);
    upstream.pipe(client);
  };
  const listen = async (): Promise<void> => {
    const next = createServer({ noDelay: true }, forward);
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject);
      next.listen(port, '127.0.0.1', () => {
        next.off('error', reject);
        resolve();
      });
    });
    server = next;
  };
  const closeListener = async (): Promise<void> => {
    const current = server;
    server = undefined;
    // close() stops accepting at once; its callback waits for connections, which the
    // caller drops or holds itself.
    if (current) current.close();
  };

  await listen();
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await closeListener();
    for (const link of [...links]) drop(link);
  };
  return {
    address: `127.0.0.1:${port}`,
    port,
    target: options.target,
    get state() {
      return state;
    },
    stats: () => ({ accepted, open: links.size }),
    async cut(mode: CutMode = 'refuse') {
      if (stopped) throw new Error('the fault proxy is stopped');
      if (state !== 'open') throw new Error(`the ${name} proxy is already cut (${state})`);
      state = mode;
      if (mode === 'refuse') {
        await closeListener();
        for (const link of [...links]) drop(link);
      } else {
        for (const link of links) hold(link);
      }
      say(`network to ${name} cut (${mode}) at 127.0.0.1:${port}`);
    },
    async restore() {
      if (stopped) throw new Error('the fault proxy is stopped');
      if (state === 'open') return;
      const was = state;
      state = 'open';
      if (was === 'blackhole') {
        for (const link of [...links]) drop(link);
      } else {
        await listen();
      }
      say(`network to ${name} restored at 127.0.0.1:${port}`);
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
