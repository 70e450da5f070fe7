import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from './fault-proxy';

// A real echo server on loopback stands for the database or broker behind the proxy.
let echo: Server;
let echoAddress: string;
const serverSide = new Set<Socket>();

beforeAll(async () => {
  echo = createServer((socket) => {
    serverSide.add(socket);
    socket.on('close', () => serverSide.delete(socket));
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  const address = echo.address();
  if (!address || typeof address !== 'object') throw new Error('no echo address');
  echoAddress = `127.0.0.1:${address.port}`;
});
afterAll(() => new Promise<void>((resolve) => echo.close(() => resolve())));

/** A connection through the proxy, with everything it received and how it ended. */
interface Conversation {
  readonly socket: Socket;
  received: string;
  ended: Promise<string>;
  connected: Promise<void>;
}

function open(proxy: FaultProxy): Conversation {
  const socket = connect({ host: '127.0.0.1', port: proxy.port });
  const conversation: Conversation = {
    socket,
    received: '',
    connected: new Promise((resolve) => socket.once('connect', () => resolve())),
    ended: new Promise((resolve) => {
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      socket.once('close', () => resolve('closed'));
    }),
  };
  socket.on('data', (chunk: Buffer) => (conversation.received += chunk.toString()));
  return conversation;
}

async function echoed(conversation: Conversation, text: string): Promise<void> {
  const before = conversation.received.length;
  conversation.socket.write(text);
  await expect.poll(() => conversation.received.slice(before), { timeout: 2_000 }).toBe(text);
}

const settle = (ms: number) => new Promise((done) => setTimeout(done, ms));

describe('fault proxy', () => {
  it('forwards both ways until cut', async () => {
    await using proxy = await startFaultProxy({ target: echoAddress });
    const first = open(proxy);
    await first.connected;
    await echoed(first, 'hello');
    await echoed(first, 'again');
    expect(proxy.stats()).toEqual({ accepted: 1, open: 1 });
    expect(proxy.state).toBe('open');
    first.socket.destroy();
  });

  it('refuse: resets open connections and refuses new ones until restored', async () => {
    await using proxy = await startFaultProxy({ target: echoAddress });
    const before = open(proxy);
    await before.connected;
    await echoed(before, 'ping');
    const serverSideBefore = serverSide.size;

    await proxy.cut('refuse');
    expect(await before.ended).toBe('ECONNRESET');
    // The far end's connection is let go too.
    await expect.poll(() => serverSide.size).toBe(serverSideBefore - 1);
    expect(await open(proxy).ended).toBe('ECONNREFUSED');

    await proxy.restore();
    const after = open(proxy);
    await after.connected;
    await echoed(after, 'back');
    expect(proxy.state).toBe('open');
    after.socket.destroy();
  });

  it('blackhole: open and new connections go silent, and those held are reset when restored', async () => {
    await using proxy = await startFaultProxy({ target: echoAddress });
    const before = open(proxy);
    await before.connected;
    await echoed(before, 'ping');
    const serverSideBefore = serverSide.size;

    await proxy.cut('blackhole');
    before.socket.write('lost');
    // A new connection is accepted, as the kernel would complete it, and never answered.
    const during = open(proxy);
    await during.connected;
    during.socket.write('unheard');
    await expect.poll(() => serverSide.size).toBe(serverSideBefore - 1);
    await settle(500);
    expect(before.received).toBe('ping');
    expect(during.received).toBe('');
    expect(before.socket.destroyed).toBe(false);
    expect(during.socket.destroyed).toBe(false);

    await proxy.restore();
    expect(await before.ended).toBe('ECONNRESET');
    expect(await during.ended).toBe('ECONNRESET');
    const after = open(proxy);
    await after.connected;
    await echoed(after, 'back');
    after.socket.destroy();
  });

  it('resets the near end when the far end cannot be reached', async () => {
    const nothing = createServer();
    await new Promise<void>((resolve) => nothing.listen(0, '127.0.0.1', resolve));
    const address = nothing.address();
    if (!address || typeof address !== 'object') throw new Error('no address');
    await new Promise<void>((resolve) => nothing.close(() => resolve()));
    await using proxy = await startFaultProxy({ target: `127.0.0.1:${address.port}` });
    expect(await open(proxy).ended).toBe('ECONNRESET');
  });

  it('stops listening when stopped', async () => {
    const proxy = await startFaultProxy({ target: echoAddress });
    const open1 = open(proxy);
    await open1.connected;
    await proxy.stop();
    expect(await open1.ended).toBe('ECONNRESET');
    expect(await open(proxy).ended).toBe('ECONNREFUSED');
  });
});
