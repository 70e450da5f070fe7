// Pieces every RPC benchmark shares: the load limits from the environment and the bare
// grpc-js echo (the baseline) served from its own process, as a service would be.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import { readDevSms } from '@vaxguard/dev-sms';
import { clientMetadata, unaryCall } from '@vaxguard/grpc-kit';
import { otpV1 } from '@vaxguard/proto';
import { eventually, freePort } from '@vaxguard/testing';
import { MAX_TOKEN_LIFETIME_MS, TOKEN_HEADER } from '@vaxguard/tokens';
import { connectEcho } from './echo-server';

/** Closed-loop load settings, the same for every benchmark and every phase. */
export interface BenchLimits {
  readonly concurrency: number;
  readonly maxSeconds: number;
  readonly maxCalls: number;
}

export function benchLimits(env: NodeJS.ProcessEnv = process.env): BenchLimits {
  return {
    concurrency: Number(env['BENCH_CONCURRENCY'] ?? 32),
    maxSeconds: Number(env['BENCH_SECONDS'] ?? 10),
    maxCalls: Number(env['BENCH_MAX_CALLS'] ?? 20_000),
  };
}

/** A phase must end before the citizen token it uses expires: this margin is left. */
const TOKEN_MARGIN_MS = 30_000;

/**
 * A citizen signed in through OTP for real (GenerateOtp, the code from the development
 * SMS file, ConfirmOtp): the metadata a call made with their token carries, and how long
 * a load phase using it may last (`maxSeconds`, or less before the token expires).
 */
export async function signInCitizen(options: {
  readonly otp: otpV1.OtpServiceClient;
  readonly app: { readonly clientId: string; readonly secret: string };
  readonly smsSink: string;
  readonly mobile: string;
  readonly maxSeconds: number;
}): Promise<{ metadata: Metadata; maxSeconds: number }> {
  const { otp, app } = options;
  const { txnId } = await unaryCall<otpV1.GenerateOtpResponse>((done) =>
    otp.generateOtp(
      {
        mobile: options.mobile,
        purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN,
        consent: undefined,
        onBehalfOfClientId: '',
      },
      clientMetadata(app.clientId, app.secret),
      done,
    ),
  );
  const sms = await eventually(async () => {
    const found = await readDevSms(options.smsSink, txnId);
    if (!found) throw new Error('no SMS yet');
    return found;
  });
  const { token, claims } = await unaryCall<otpV1.ConfirmOtpResponse>((done) =>
    otp.confirmOtp({ txnId, otp: sms.code }, clientMetadata(app.clientId, app.secret), done),
  );
  const metadata = clientMetadata(app.clientId, app.secret);
  metadata.set(TOKEN_HEADER, token);
  const expiresAt = claims?.expiresAt?.getTime() ?? Date.now() + MAX_TOKEN_LIFETIME_MS;
  const left = (expiresAt - Date.now() - TOKEN_MARGIN_MS) / 1000;
  return { metadata, maxSeconds: Math.min(options.maxSeconds, left) };
}

export interface EchoServer extends AsyncDisposable {
  readonly address: string;
  /** The processes serving it, for CPU accounting. */
  readonly pids: readonly (number | undefined)[];
  /** One echo of a 64-byte payload (or of the next signed request, relayed). */
  call(): Promise<Buffer>;
  stop(): void;
}

/** Starts one echo-server.ts process with these arguments after its port; its address. */
async function spawnEcho(args: readonly string[]) {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'tools/bench/echo-server.ts', String(port), ...args],
    {
      env: { ...process.env, TSX_TSCONFIG_PATH: 'tools/tsconfig.json' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`echo server exited with ${code}`)));
  });
  return { child, address: `127.0.0.1:${port}` };
}

type EchoProcess = Awaited<ReturnType<typeof spawnEcho>>;

function echoClient(
  address: string,
  servers: readonly EchoProcess[],
  nextPayload: () => Buffer,
): EchoServer {
  const client = connectEcho(address);
  const stop = () => {
    client.close();
    for (const { child } of servers) child.kill('SIGTERM');
  };
  return {
    address,
    pids: servers.map(({ child }) => child.pid),
    call: () => unaryCall((done) => client.echo(nextPayload(), done)),
    stop,
    [Symbol.asyncDispose]: async () => stop(),
  };
}

/** Starts the bare echo server (`echo-server.ts`) as its own process, with a client to it. */
export async function startEcho(): Promise<EchoServer> {
  const server = await spawnEcho([]);
  const payload = Buffer.alloc(64, 1);
  return echoClient(server.address, [server], () => payload);
}

/** `distinct` requests of `signedBytes` random bytes each, signed in advance. */
function signedRequests(options: { signedBytes?: number; distinct?: number }) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  const requests = Array.from({ length: options.distinct ?? 4_000 }, () => {
    const body = randomBytes(options.signedBytes ?? 700);
    return Buffer.concat([sign(null, body, privateKey), body]);
  });
  let next = 0;
  return { spki, next: () => requests[next++ % requests.length]! };
}

/**
 * The least a call handled by one service can cost: client → echo over gRPC, the echo
 * checking an Ed25519 signature over the request first (as the one service a consent
 * grant reaches must), nothing else. Requests as startRelayedEcho's.
 */
export async function startSignedEcho(
  options: { signedBytes?: number; distinct?: number } = {},
): Promise<EchoServer> {
  const requests = signedRequests(options);
  const echo = await spawnEcho(['--verify', requests.spki]);
  return echoClient(echo.address, [echo], requests.next);
}

/**
 * The least a call relayed through two services can cost: client → hop → echo, each
 * process its own, and each service checking an Ed25519 signature over the request first
 * (as each service a consent grant reaches must). Requests are `signedBytes` long, signed
 * in advance (`distinct` of them, taken in turn), so the client signs nothing while timed.
 */
export async function startRelayedEcho(
  options: { signedBytes?: number; distinct?: number } = {},
): Promise<EchoServer> {
  const requests = signedRequests(options);
  const echo = await spawnEcho(['--verify', requests.spki]);
  const hop = await spawnEcho(['--verify', requests.spki, '--upstream', echo.address]);
  return echoClient(hop.address, [hop, echo], requests.next);
}

/** Runs a benchmark's main; a failure ends the process with a one-line reason. */
export function runBenchmark(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    process.stderr.write(
      `benchmark failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  });
}
