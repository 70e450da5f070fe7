// The client against a stand-in HTTP witness on loopback: what it sends, and which
// error each answer of c2sp.org/tlog-witness becomes. The real witness is in
// litewitness.int.test.ts.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCosignatureSigner,
  generateSignerKey,
  parseSignerKey,
  signCheckpoint,
  signNote,
} from '@vaxguard/tlog';
import { addCheckpoint, formatAddCheckpointBody, verifyWitnessCosignature } from './add-checkpoint';
import {
  WitnessBadRequestError,
  WitnessConflictError,
  WitnessCosignatureError,
  WitnessInconsistentError,
  WitnessRefusedError,
  WitnessResponseError,
  WitnessUnreachableError,
} from './errors';

const log = parseSignerKey(generateSignerKey('audit.vaxguard.test').signerKey);
const CHECKPOINT = signCheckpoint(
  { origin: log.name, size: 3, rootHash: new Uint8Array(32).fill(1) },
  [log],
);
const PROOF = [new Uint8Array(32).fill(2), new Uint8Array(32).fill(3)];

/** What the stand-in answers next, and what it was sent. */
let answer: { status: number; body: string; delayMs?: number } = { status: 200, body: '' };
let received: { method?: string; url?: string; body: string } = { body: '' };
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received = { method: request.method, url: request.url, body };
      setTimeout(() => response.writeHead(answer.status).end(answer.body), answer.delayMs ?? 0);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((done) => server.close(done));
});

const request = { oldSize: 1, consistencyProof: PROOF, checkpoint: CHECKPOINT };

describe('addCheckpoint', () => {
  it('posts old size, proof lines, a blank line and the note to /add-checkpoint', async () => {
    const witness = createCosignatureSigner('witness.vaxguard.test');
    const text = CHECKPOINT.slice(0, CHECKPOINT.indexOf('\n\n') + 1);
    const cosigned = signNote(text, [witness]);
    answer = { status: 200, body: cosigned.slice(cosigned.indexOf('\n\n') + 2) };

    const lines = await addCheckpoint(`${url}/`, request);

    expect(received.method).toBe('POST');
    expect(received.url).toBe('/add-checkpoint');
    expect(received.body).toBe(
      `old 1\n${Buffer.from(PROOF[0] as Uint8Array).toString('base64')}\n` +
        `${Buffer.from(PROOF[1] as Uint8Array).toString('base64')}\n\n${CHECKPOINT}`,
    );
    expect(verifyWitnessCosignature(CHECKPOINT, lines, witness.verifierKey).name).toBe(
      'witness.vaxguard.test',
    );
  });

  it('reads the known size of a 409', async () => {
    answer = { status: 409, body: '12\n' };
    const refusal = await addCheckpoint(url, request).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(WitnessConflictError);
    expect(refusal).toMatchObject({ knownSize: 12, status: 409, reason: 'WITNESS_CONFLICT' });
  });

  it.each([
    [422, 'bad consistency proof\n', WitnessInconsistentError],
    [403, 'unknown log\n', WitnessRefusedError],
    [404, 'unknown log\n', WitnessRefusedError],
    [400, 'invalid input\n', WitnessBadRequestError],
    [500, 'database error\n', WitnessResponseError],
    [409, 'twelve\n', WitnessResponseError],
    [200, 'not a signature line\n', WitnessResponseError],
  ])('turns %i %j into %o', async (status, body, type) => {
    answer = { status, body };
    await expect(addCheckpoint(url, request)).rejects.toBeInstanceOf(type);
  });

  it('is unreachable when nothing listens, and when the witness does not answer in time', async () => {
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const address = closed.address();
    await new Promise((done) => closed.close(done));
    const port = typeof address === 'object' && address ? address.port : 0;
    await expect(addCheckpoint(`http://127.0.0.1:${port}`, request)).rejects.toBeInstanceOf(
      WitnessUnreachableError,
    );

    answer = { status: 200, body: '', delayMs: 5_000 };
    await expect(addCheckpoint(url, request, { timeoutMs: 200 })).rejects.toBeInstanceOf(
      WitnessUnreachableError,
    );
  });

  it('refuses to send what is not a request', () => {
    expect(() => formatAddCheckpointBody({ ...request, oldSize: -1 })).toThrow(RangeError);
    expect(() =>
      formatAddCheckpointBody({ ...request, consistencyProof: [new Uint8Array(31)] }),
    ).toThrow(RangeError);
  });
});

describe('verifyWitnessCosignature', () => {
  it('refuses lines with no cosignature of that witness', () => {
    const witness = createCosignatureSigner('witness.vaxguard.test');
    const other = createCosignatureSigner('witness.vaxguard.test');
    const text = CHECKPOINT.slice(0, CHECKPOINT.indexOf('\n\n') + 1);
    const cosigned = signNote(text, [other]);
    const lines = cosigned.slice(cosigned.indexOf('\n\n') + 2);
    expect(() => verifyWitnessCosignature(CHECKPOINT, lines, witness.verifierKey)).toThrow(
      WitnessCosignatureError,
    );
  });
});
