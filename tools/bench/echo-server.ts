// The baseline of every RPC benchmark: a bare grpc-js unary echo, run as its own
// process like a service, answering on the port given as the first argument.
//
// For the RecordDose bench's floor it can also be one hop of a relayed echo: with
// `--verify <spki-base64>` it first checks an Ed25519 signature over each request (the
// request is signature ‖ signed bytes, as a consent grant is checked at each service it
// reaches), and with `--upstream <address>` it passes the request on and answers with
// what the upstream echo answered.
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  credentials,
  makeGenericClientConstructor,
  Server,
  ServerCredentials,
  status,
  type ServiceDefinition,
  type ServiceError,
} from '@grpc/grpc-js';

const identity = (value: Buffer): Buffer => value;
export const echoService: ServiceDefinition = {
  echo: {
    path: '/bench.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/** Bytes of an Ed25519 signature, which a signed request starts with. */
const SIGNATURE_BYTES = 64;

type Answer = (error: ServiceError | null, value?: Buffer) => void;

/** A grpc-js client of the echo at `address`. */
export interface EchoStub {
  echo(request: Buffer, done: (error: ServiceError | null, response: Buffer) => void): void;
  close(): void;
}

export function connectEcho(address: string): EchoStub {
  const Echo = makeGenericClientConstructor(echoService, 'Echo');
  return new Echo(address, credentials.createInsecure()) as unknown as EchoStub;
}

function signatureChecker(spki: string | undefined): (request: Buffer) => boolean {
  if (!spki) return () => true;
  const key: KeyObject = createPublicKey({
    key: Buffer.from(spki, 'base64'),
    format: 'der',
    type: 'spki',
  });
  return (request) =>
    verify(null, request.subarray(SIGNATURE_BYTES), key, request.subarray(0, SIGNATURE_BYTES));
}

function serve(port: string, options: { verify?: string; upstream?: string }): void {
  const signed = signatureChecker(options.verify);
  const upstream = options.upstream ? connectEcho(options.upstream) : undefined;
  const server = new Server();
  server.addService(echoService, {
    echo: (call: { request: Buffer }, answer: Answer) => {
      if (!signed(call.request)) {
        answer(
          Object.assign(new Error('bad signature'), {
            code: status.UNAUTHENTICATED,
          }) as ServiceError,
        );
        return;
      }
      if (upstream) upstream.echo(call.request, answer);
      else answer(null, call.request);
    },
  });
  server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error) => {
    if (error) throw error;
    process.stdout.write('ready\n');
  });
  process.on('SIGTERM', () => server.forceShutdown());
}

if (process.argv[2]) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { verify: { type: 'string' }, upstream: { type: 'string' } },
  });
  serve(positionals[0] ?? '', {
    ...(values.verify ? { verify: values.verify } : {}),
    ...(values.upstream ? { upstream: values.upstream } : {}),
  });
}
