// `npm start`: the whole platform on this machine. Builds the services, brings up
// PostgreSQL and Kafka (containers when a Docker engine answers, otherwise local
// processes from the same Debian packages and Maven jars), creates each service's
// database, starts the four services, seeds demo data and prints where everything is.
//
// The console stays quiet: the build is one line unless it fails, the broker's and the
// database's logs go only to .vaxguard/dev/logs/, and of the services' JSON logs only
// warnings and errors are shown (every line goes to .vaxguard/dev/logs/<service>.log).
// Each service's environment is written to .vaxguard/dev/env/<service>.env so that
// `npx nx run <service>:serve` can restart one service alone; a service that exits is
// reported and the rest keep running. Ctrl-C stops everything this command started.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  type WriteStream,
} from 'node:fs';
import { createConnection } from 'node:net';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { connectSession } from '@vaxguard/db';
import { guidedTour } from '@vaxguard/dev-operator';
import { writePlatformDescription } from '@vaxguard/dev-platform';
import {
  checkHealth,
  completeSecrets,
  eventually,
  hashStaffPasswordWithIdentity,
  instancePort,
  jaegerBinary,
  serviceEnvironment,
  startJaeger,
  webEnvironment,
  prometheusConfig,
  startPostgresPair,
  startPrometheus,
  ALERT_RULES_FILE,
  type PostgresPairFixture,
  type PlatformLayout,
  type PlatformSecrets,
  type RunningJaeger,
} from '@vaxguard/testing';
import { startTracing } from '@vaxguard/tracing';
import { parseSignerKey } from '@vaxguard/tlog';
import { startWitness, witnessBinDir, type RunningWitness } from '@vaxguard/witness';
import { witnessAuditLog } from '../audit/verify-log';
import { runDemo } from './demo';
import { DEV_LOGS, DEV_STATE, envFileOf, ROOT, shown, writeEnvFile } from './dev-env';

const env = process.env;
// The default ports sit below Linux's ephemeral range (32768-60999), where any outgoing
// connection may already hold one (an instance's metrics port once did), and below the
// tests' port blocks (libs/testing, 19988-31999): the gRPC services keep 50051-50054,
// the port every gRPC tool expects.
const PG_PORT = Number(env['VAXGUARD_DEV_PG_PORT'] ?? 15432);
/**
 * VAXGUARD_DEV_POSTGRES=pair: PostgreSQL as a primary and a standby with automatic
 * failover (pg_auto_failover's monitor and two nodes, containers only) instead of one
 * server; the nodes on PG_PORT and the next port, the monitor on the one after.
 */
const PG_MODE = env['VAXGUARD_DEV_POSTGRES'] ?? 'single';
const PG_PAIR_PORTS = { nodes: [PG_PORT, PG_PORT + 1] as [number, number], monitor: PG_PORT + 2 };
const PG_PAIR_PREFIX = 'vaxguard-dev-pg';
const KAFKA_PORT = Number(env['VAXGUARD_DEV_KAFKA_PORT'] ?? 19092);
const FIRST_SERVICE_PORT = Number(env['VAXGUARD_DEV_GRPC_PORT'] ?? 50051);
const SERVICES = ['identity', 'otp', 'vaccination-record', 'audit'] as const;
type Service = (typeof SERVICES)[number];
const DEMO_CLIENT = 'demo-portal';
// The web pages (services/web): the citizen's page and the auditor's console.
const WEB_PORT = Number(env['VAXGUARD_DEV_WEB_PORT'] ?? 8080);
const WEB_URL = `http://127.0.0.1:${WEB_PORT}`;
const DEV_ADMIN = 'platform.admin';

// The audit log's origin: its checkpoints' first line and its signer key's name.
const AUDIT_LOG_ORIGIN = 'audit.vaxguard.dev';
const ISSUER_HTTP_PORT = Number(env['VAXGUARD_DEV_ISSUER_PORT'] ?? 18080);
// The witness that cosigns the audit log's checkpoints (litewitness, c2sp.org/tlog-witness).
const WITNESS_PORT = Number(env['VAXGUARD_DEV_WITNESS_PORT'] ?? 17380);
const WITNESS_STATE = resolve(DEV_STATE, 'witness');
// Each service's first instance serves /metrics at this port + its index (instance k:
// + k × the layout's stride); Prometheus scrapes them all, its data kept across starts.
const FIRST_METRICS_PORT = Number(env['VAXGUARD_DEV_METRICS_PORT'] ?? 19101);
const PROMETHEUS_PORT = Number(env['VAXGUARD_DEV_PROMETHEUS_PORT'] ?? 19090);
const PROMETHEUS_STATE = resolve(DEV_STATE, 'prometheus');
// Jaeger, where every service sends its spans (OTLP/gRPC) and traces are read: its query
// API on the UI's usual port, OTLP on the next ones (not 4317/4318, which a developer's
// own collector may hold), its query gRPC API just below.
const JAEGER_PORT = Number(env['VAXGUARD_DEV_JAEGER_PORT'] ?? 16686);
const JAEGER_PORTS = {
  query: JAEGER_PORT,
  queryGrpc: JAEGER_PORT - 1,
  otlpGrpc: JAEGER_PORT + 1,
  otlpHttp: JAEGER_PORT + 2,
};
// The certificate issuer (a card's `iss`) is where its keys are served, so any SMART
// Health Card verifier on this machine, the official validator included, finds them at
// iss + /.well-known/jwks.json. Production issuers are https; loopback http is the one
// development exception vaccination-record accepts.
const ISSUER_URL = `http://127.0.0.1:${ISSUER_HTTP_PORT}/issuer`;
const issuerKeysUrl = `${ISSUER_URL}/.well-known/jwks.json`;
const COLOUR = process.stdout.isTTY === true;
const PLATFORM_FILE = resolve(DEV_STATE, 'platform.json');
const CITIZEN_MOBILE_FILE = resolve(DEV_STATE, 'demo-citizen.mobile');

/**
 * `--instances N` (default 1): N instances of every service, instance k at its first
 * instance's ports + k × INSTANCE_PORT_STRIDE (libs/testing's platform layout), each
 * service's peers given the list of every instance (clients balance, round_robin).
 */
function instancesOption(): number {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { instances: { type: 'string', default: '1' } },
    strict: true,
  });
  const count = Number(values.instances);
  if (!Number.isInteger(count) || count < 1 || count > 9) {
    throw new Error(`--instances must be a whole number from 1 to 9 (got ${values.instances})`);
  }
  return count;
}

/** An instance's name in logs and on the console: `otp` for the first, `otp#2` for the second. */
const instanceLabel = (service: Service | 'web', instance: number) =>
  instance === 0 ? service : `${service}#${instance + 1}`;

/** What this command started, so Ctrl-C stops exactly that (services first), by instance label. */
const services = new Map<string, ChildProcess>();
const infrastructure: { name: string; child: ChildProcess }[] = [];
const containers: string[] = [];
const tasks = new Set<ChildProcess>();
const logFiles: WriteStream[] = [];
let witness: RunningWitness | undefined;
let jaeger: RunningJaeger | undefined;
let postgresPair: PostgresPairFixture | undefined;

function style(code: string, text: string): string {
  return COLOUR ? `\x1b[${code}m${text}\x1b[0m` : text;
}

function say(message: string): void {
  process.stdout.write(`${style('1', '[vaxguard]')} ${message}\n`);
}

function portInUse(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

function dockerAvailable(): boolean {
  return spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
}

function logFile(name: string): WriteStream {
  mkdirSync(DEV_LOGS, { recursive: true });
  const file = createWriteStream(resolve(DEV_LOGS, `${name}.log`));
  logFiles.push(file);
  return file;
}

function eachLine(stream: Readable | null, onLine: (line: string) => void): void {
  let buffered = '';
  stream?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
  stream?.on('end', () => {
    if (buffered) onLine(buffered);
  });
}

/** Everything a process writes goes to its log file, and nowhere else. */
function toLogFile(child: ChildProcess, file: WriteStream): void {
  child.stdout?.pipe(file, { end: false });
  child.stderr?.pipe(file, { end: false });
}

/** Fields the console line says otherwise, or that only the log file needs. */
const NOT_ON_THE_CONSOLE = new Set(['time', 'timestamp', 'level', 'service', 'msg', 'stack']);

/**
 * A service's log line as the console shows it, or undefined to keep it in the file:
 * its warnings and errors, compactly (message, then the other fields, an error as its
 * type and message; the stack stays in the file). What is not a JSON log line and
 * comes on standard error (a configuration error, a crash) is shown as it is.
 */
function consoleLine(
  service: string,
  line: string,
  stream: 'stdout' | 'stderr',
): string | undefined {
  let record: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    if (parsed !== null && typeof parsed === 'object') record = parsed as Record<string, unknown>;
  } catch {
    // not a log record
  }
  const prefix = `[${service}]`;
  if (!record) return stream === 'stderr' && line.trim() ? `${prefix} ${line}` : undefined;
  const { level, msg } = record;
  if (level !== 'warn' && level !== 'error') return undefined;
  const details = Object.entries(record)
    .filter(([key]) => !NOT_ON_THE_CONSOLE.has(key))
    .map(([key, value]) => `${key}=${compact(value)}`);
  const label = style(level === 'error' ? '31' : '33', String(level));
  const text = [`${prefix} ${label} ${String(msg)}`, ...details].join(' ');
  return text.length > 400 ? `${text.slice(0, 399)}…` : text;
}

function compact(value: unknown): string {
  if (value !== null && typeof value === 'object' && 'message' in value) {
    const { type, message } = value as { type?: unknown; message?: unknown };
    return JSON.stringify(`${typeof type === 'string' ? type : 'Error'}: ${String(message)}`);
  }
  return typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? 'null');
}

/**
 * Runs a command to completion with its output in a log file, and returns that output
 * (standard output apart too: the image builds print their reference there). Ctrl-C
 * meanwhile stops it.
 */
function runTask(
  command: string,
  args: readonly string[],
  log: string,
  extraEnv: Record<string, string> = {},
): Promise<{ ok: boolean; stdout: string; output: string }> {
  const file = logFile(log);
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  tasks.add(child);
  toLogFile(child, file);
  let stdout = '';
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk: Buffer) => (output += chunk.toString()));
  }
  return new Promise((done) => {
    child.once('error', (error) =>
      done({ ok: false, stdout, output: `${output}${error.message}` }),
    );
    child.once('close', (code) => {
      tasks.delete(child);
      done({ ok: code === 0, stdout, output });
    });
  });
}

const lastLines = (text: string, count: number) =>
  text.trimEnd().split('\n').slice(-count).join('\n');

/** The last lines of a log, for a failure that must be shown. */
function tail(log: string, count: number): string {
  const file = resolve(DEV_LOGS, `${log}.log`);
  return existsSync(file) ? lastLines(readFileSync(file, 'utf8'), count) : '';
}

async function build(): Promise<void> {
  process.stdout.write(`${style('1', '[vaxguard]')} building the services... `);
  const started = Date.now();
  const result = await runTask(
    resolve(ROOT, 'node_modules/.bin/nx'),
    ['run-many', '-t', 'build', '-p', ...SERVICES, 'web', '--outputStyle=static'],
    'build',
    { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' },
  );
  if (stopping) return;
  if (!result.ok) {
    process.stdout.write(`failed\n${result.output.trimEnd()}\n`);
    throw new Error(`the build failed (its output above, also in ${shown(DEV_LOGS)}/build.log)`);
  }
  process.stdout.write(`done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

/**
 * Development secrets, made once and kept so tokens and data survive a restart. A file
 * from an earlier version gets the secrets it lacks and is rewritten; none it has changes.
 */
function devSecrets(): PlatformSecrets {
  const file = resolve(DEV_STATE, 'secrets.json');
  const existing = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<PlatformSecrets>)
    : {};
  const secrets = completeSecrets(AUDIT_LOG_ORIGIN, existing);
  const text = JSON.stringify(secrets, null, 2);
  if (!existsSync(file) || readFileSync(file, 'utf8') !== text) {
    writeFileSync(file, text, { mode: 0o600 });
  }
  return secrets;
}

/**
 * Starts a named container, replacing a leftover of an earlier run. A `--rm`
 * container still being removed holds its name for a moment, hence the retries.
 */
async function runContainer(name: string, args: readonly string[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    spawnSync('docker', ['rm', '-f', name], { stdio: 'ignore' });
    const run = spawnSync(
      'docker',
      ['run', '-d', '--rm', '--name', name, '--label', 'vaxguard.dev=true', ...args],
      { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' },
    );
    if (run.status === 0) return;
    if (attempt === 5) throw new Error(`docker run ${name} failed: ${run.stderr.trim()}`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

/** What the broker logs once it serves: the test harness waits for the same line. */
const KAFKA_READY = /Kafka Server started/;

/**
 * Starts the database or the broker (or follows a container's log), its output to its
 * log file only, in its own process group so that Ctrl-C reaches only this command,
 * which stops things in order. Resolves once a line matches `ready`.
 */
function startInfrastructureProcess(
  name: string,
  command: string,
  args: string[],
  ready: RegExp,
): Promise<void> {
  const child = spawn(command, args, {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  toLogFile(child, logFile(name));
  infrastructure.push({ name, child });
  const isReady = new Promise<void>((done, fail) => {
    const timer = setTimeout(
      () =>
        fail(new Error(`${name} was not ready within 3 minutes (${shown(DEV_LOGS)}/${name}.log)`)),
      180_000,
    );
    for (const stream of [child.stdout, child.stderr]) {
      eachLine(stream, (line) => {
        if (!ready.test(line)) return;
        clearTimeout(timer);
        done();
      });
    }
    child.once('exit', () => {
      clearTimeout(timer);
      fail(new Error(`${name} stopped before it was ready`));
    });
  });
  // Awaited later; an early failure must not count as unhandled meanwhile.
  isReady.catch(() => undefined);
  return isReady;
}

async function containerImage(name: string): Promise<string> {
  const result = await runTask('bash', ['tools/images/build.sh', name], `image-${name}`);
  if (!result.ok) {
    if (!stopping) process.stdout.write(`${lastLines(result.output, 30)}\n`);
    throw new Error(`building the ${name} image failed (${shown(DEV_LOGS)}/image-${name}.log)`);
  }
  return result.stdout.trim().split('\n').pop() as string;
}

async function startInfrastructure(): Promise<{ adminUrl: string; brokers: string; mode: string }> {
  let mode: string;
  const ready: Promise<void>[] = [];
  if (env['VAXGUARD_DEV_INFRA'] !== 'local' && dockerAvailable()) {
    mode = 'containers';
    say(
      `starting PostgreSQL and Kafka (containers; images built or reused, first build takes minutes)`,
    );
    const pgImage = await containerImage('postgres');
    const kafkaImage = await containerImage('kafka');
    if (PG_MODE === 'pair') ready.push(startPair());
    for (const [name, ref, pattern, args] of [
      ...(PG_MODE === 'pair'
        ? []
        : ([
            [
              'postgres',
              pgImage,
              /ready to accept connections/,
              ['-p', `127.0.0.1:${PG_PORT}:5432`],
            ],
          ] as const)),
      [
        'kafka',
        kafkaImage,
        KAFKA_READY,
        [
          '-p',
          `127.0.0.1:${KAFKA_PORT}:9092`,
          '-e',
          `KAFKA_ADVERTISED_LISTENER=PLAINTEXT://127.0.0.1:${KAFKA_PORT}`,
        ],
      ],
    ] as const) {
      if (stopping) break;
      const container = `vaxguard-dev-${name}`;
      await runContainer(container, [...args, ref]);
      containers.push(container);
      ready.push(startInfrastructureProcess(name, 'docker', ['logs', '-f', container], pattern));
    }
  } else {
    if (PG_MODE === 'pair') {
      throw new Error('VAXGUARD_DEV_POSTGRES=pair runs the pair in containers: it needs Docker');
    }
    mode = 'local processes';
    say('starting PostgreSQL and Kafka (local processes)');
    for (const [name, port, pattern] of [
      ['postgres', PG_PORT, /ready to accept connections/],
      ['kafka', KAFKA_PORT, KAFKA_READY],
    ] as const) {
      const args = ['tools/images/run-local.sh', name, resolve(DEV_STATE, name), String(port)];
      ready.push(startInfrastructureProcess(name, 'bash', args, pattern));
    }
  }
  // Without its database or broker nothing works, and `serve` cannot bring them back.
  for (const { name, child } of infrastructure) {
    child.once('exit', (code, signal) => {
      if (stopping) return;
      say(`${name} stopped (${signal ?? `code ${code}`}); stopping everything`);
      process.stdout.write(`${tail(name, 20)}\n`);
      void stopAll(1);
    });
  }
  await Promise.all(ready);
  // Logged once, after the role and database exist; connecting confirms it through the port.
  const adminUrl =
    postgresPair?.adminUrl ?? `postgres://vaxguard:vaxguard@127.0.0.1:${PG_PORT}/vaxguard`;
  await eventually(
    async () => {
      const client = await connectSession({ connectionString: adminUrl });
      await client.end();
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
  const brokers = `127.0.0.1:${KAFKA_PORT}`;
  await groupCoordinatorReady(brokers);
  return { adminUrl, brokers, mode };
}

/**
 * The pair with its monitor (libs/testing's fixture, on fixed loopback ports), replacing
 * the containers of an earlier run.
 */
async function startPair(): Promise<void> {
  for (const node of ['monitor', 'a', 'b']) {
    spawnSync('docker', ['rm', '-f', `${PG_PAIR_PREFIX}-${node}`], { stdio: 'ignore' });
  }
  postgresPair = await startPostgresPair({
    namePrefix: PG_PAIR_PREFIX,
    ports: PG_PAIR_PORTS,
    labels: { 'vaxguard.dev': 'true' },
  });
  // Each node's log to its file; a node that dies (a failover) stops nothing else.
  for (const node of ['monitor', 'a', 'b']) {
    const follower = spawn('docker', ['logs', '-f', `${PG_PAIR_PREFIX}-${node}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    toLogFile(follower, logFile(`postgres-${node}`));
    tasks.add(follower);
    follower.once('exit', () => tasks.delete(follower));
  }
}

/**
 * A fresh broker creates its consumer-offsets topic on the first request for a group
 * coordinator; until then every service's consumer logs an error and retries. Asking
 * once here, quietly, lets the services start without that noise.
 */
async function groupCoordinatorReady(brokers: string): Promise<void> {
  const kafka = new Kafka({
    clientId: 'vaxguard-dev-start',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await eventually(() => admin.describeGroups(['vaxguard-dev-start']), {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
  } finally {
    await admin.disconnect();
  }
}

async function createDatabases(adminUrl: string): Promise<Record<Service, string>> {
  const client = await connectSession({ connectionString: adminUrl });
  const urls = {} as Record<Service, string>;
  try {
    for (const service of SERVICES) {
      const name = `vaxguard_${service.replace('-', '_')}`;
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
        name,
      ]);
      if (rowCount === 0) await client.query(`CREATE DATABASE ${name}`);
      urls[service] = adminUrl.replace(/\/vaxguard(\?|$)/, `/${name}$1`);
    }
  } finally {
    await client.end();
  }
  return urls;
}

function restartHint(service: Service | 'web'): string {
  return `restart it with: npx nx run ${service}:serve (log: ${shown(DEV_LOGS)}/${service}.log)`;
}

/**
 * Starts a service in its own process group, its full log to its file and its
 * warnings and errors to the console. When it exits, the rest keep running.
 */
function startService(
  service: Service | 'web',
  environment: Record<string, string>,
  instance = 0,
): void {
  const label = instanceLabel(service, instance);
  const child = spawn(
    process.execPath,
    ['--enable-source-maps', `services/${service}/dist/main.js`],
    {
      cwd: ROOT,
      env: { ...env, ...environment },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const file = logFile(label.replace('#', '-'));
  toLogFile(child, file);
  for (const stream of ['stdout', 'stderr'] as const) {
    eachLine(child[stream], (line) => {
      const shownLine = consoleLine(label, line, stream);
      if (shownLine !== undefined) process.stdout.write(`${shownLine}\n`);
    });
  }
  child.once('exit', (code, signal) => {
    if (stopping) return;
    say(
      `${label} exited (${signal ?? `code ${code}`}); the rest keep running${instance === 0 ? `; ${restartHint(service)}` : ''}`,
    );
  });
  services.set(label, child);
}

/** `SERVING` once the web service answers its /healthz, else what it is. */
async function webHealth(url: string): Promise<string> {
  const child = services.get('web') as ChildProcess;
  const deadline = Date.now() + 60_000;
  while (running(child) && Date.now() < deadline && !stopping) {
    const ok = await fetch(`${url}/healthz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return 'SERVING';
    await new Promise((done) => setTimeout(done, 300));
  }
  return running(child) ? 'no answer' : `exited (${child.signalCode ?? `code ${child.exitCode}`})`;
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** `SERVING` once the service says so, or why not (it exited, or never answered). */
async function health(label: string, address: string): Promise<string> {
  const child = services.get(label) as ChildProcess;
  const deadline = Date.now() + 120_000;
  let status = 'no answer';
  while (running(child) && Date.now() < deadline && !stopping) {
    status = await checkHealth(address).catch(() => 'no answer');
    if (status === 'SERVING') return status;
    await new Promise((done) => setTimeout(done, 300));
  }
  return running(child) ? status : `exited (${child.signalCode ?? `code ${child.exitCode}`})`;
}

/**
 * The audit log's witness: a real litewitness, its key and what it cosigned kept in
 * .vaxguard/dev/witness across starts. Containers start with an empty log, so then the
 * witness forgets the earlier start's log (its key stays): it would otherwise refuse
 * the new log's checkpoints as a rollback of the old one.
 */
async function startAuditWitness(mode: string, secrets: PlatformSecrets): Promise<RunningWitness> {
  if (mode === 'containers') {
    for (const file of ['witness.db', 'witness.db-journal', 'witness.db-wal', 'witness.db-shm']) {
      rmSync(resolve(WITNESS_STATE, file), { force: true });
    }
  }
  mkdirSync(DEV_LOGS, { recursive: true });
  const logFile = resolve(DEV_LOGS, 'witness.log');
  try {
    return await startWitness({
      dir: WITNESS_STATE,
      name: 'witness.vaxguard.dev',
      logs: [
        {
          origin: AUDIT_LOG_ORIGIN,
          verifierKey: parseSignerKey(secrets.auditLogSignerKey).verifierKey,
        },
      ],
      binDir: witnessBinDir(env['VAXGUARD_CACHE_DIR']),
      port: WITNESS_PORT,
      logFile,
    });
  } catch (error) {
    throw new Error(
      `the audit log witness did not start (${shown(logFile)}): ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

/** Jaeger on its fixed ports, its configuration and log in .vaxguard/dev; traces in memory. */
async function startDevJaeger(): Promise<RunningJaeger> {
  mkdirSync(DEV_LOGS, { recursive: true });
  const logFile = resolve(DEV_LOGS, 'jaeger.log');
  try {
    return await startJaeger({
      dir: resolve(DEV_STATE, 'jaeger'),
      ports: JAEGER_PORTS,
      binary: jaegerBinary(env['VAXGUARD_CACHE_DIR']),
      logFile,
    });
  } catch (error) {
    throw new Error(
      `Jaeger did not start (${shown(logFile)}): ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

const PROMETHEUS_URL = `http://127.0.0.1:${PROMETHEUS_PORT}`;

/**
 * Prometheus (Debian's, ensure-prereqs' prometheus step) scraping every instance of
 * every service each 15 s with the repository's alerting rules, its data in
 * .vaxguard/dev/prometheus; stopped with the rest. A Prometheus that does not start is
 * reported and the platform runs on without it.
 */
async function startDevPrometheus(jobs: Record<Service, string[]>): Promise<string> {
  mkdirSync(DEV_LOGS, { recursive: true });
  try {
    const prometheus = await startPrometheus({
      dir: PROMETHEUS_STATE,
      config: prometheusConfig({ jobs, ruleFiles: [ALERT_RULES_FILE] }),
      port: PROMETHEUS_PORT,
      logFile: resolve(DEV_LOGS, 'prometheus.log'),
      retention: '7d',
      detached: true,
    });
    infrastructure.push({ name: 'prometheus', child: prometheus.child });
    return 'running';
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    say(`Prometheus did not start (${shown(DEV_LOGS)}/prometheus.log): ${reason}`);
    return `not running: ${reason}`;
  }
}

/** The printout's lines for the metrics: each service's endpoint, and Prometheus. */
function metricsRows(prometheus: string, urls: Record<Service, string>): string[] {
  return [
    `  ${'prometheus'.padEnd(20)} ${PROMETHEUS_URL}  (${prometheus}; scrapes every service each 15 s; alerts at ${PROMETHEUS_URL}/alerts, rules in deploy/prometheus/rules.yml; data in ${shown(PROMETHEUS_STATE)})`,
    ...SERVICES.map(
      (service) => `  ${`${service} metrics`.padEnd(20)} ${urls[service].split(',').join(' ')}`,
    ),
  ];
}

let stopping = false;
function killEverything(): void {
  for (const child of [...services.values(), ...infrastructure.map((i) => i.child), ...tasks]) {
    if (running(child)) child.kill('SIGKILL');
  }
  for (const name of containers) spawnSync('docker', ['rm', '-f', name], { stdio: 'ignore' });
  for (const node of postgresPair ? ['monitor', 'a', 'b'] : []) {
    spawnSync('docker', ['rm', '-f', `${PG_PAIR_PREFIX}-${node}`], { stdio: 'ignore' });
  }
  if (jaeger && running(jaeger.child)) jaeger.child.kill('SIGKILL');
  for (const pid of witness ? [witness.pid, witness.agentPid] : []) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Stops what this command started: the services, then the database and the broker. */
async function stopAll(code: number): Promise<never> {
  if (stopping) {
    // A second Ctrl-C: no more waiting.
    killEverything();
    process.exit(code);
  }
  stopping = true;
  say('stopping');
  const stop = async (children: ChildProcess[]) =>
    Promise.all(
      children.filter(running).map(
        (child) =>
          new Promise<void>((done) => {
            child.once('exit', () => done());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
          }),
      ),
    );
  await stop([...tasks]);
  const exited = [...services].filter(([, child]) => !running(child)).map(([name]) => name);
  await stop([...services.values()]);
  await witness?.stop();
  await jaeger?.stop();
  for (const name of containers) spawnSync('docker', ['rm', '-f', name], { stdio: 'ignore' });
  await postgresPair?.stop();
  await stop(infrastructure.map(({ child }) => child));
  await Promise.all(logFiles.map((file) => new Promise((done) => file.end(done))));
  say(logFiles.length > 0 ? `stopped; logs in ${shown(DEV_LOGS)}/` : 'stopped');
  for (const service of exited) {
    say(`${service} had exited: if you restarted it with nx run ${service}:serve, stop it there`);
  }
  process.exit(code);
}

async function main(): Promise<void> {
  mkdirSync(DEV_STATE, { recursive: true });
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  const instances = instancesOption();
  // Each instance's own address, and each service's: every instance's, comma-separated.
  const instanceAddresses = Object.fromEntries(
    SERVICES.map((service, index) => [
      service,
      Array.from(
        { length: instances },
        (_, k) => `127.0.0.1:${instancePort(FIRST_SERVICE_PORT + index, k)}`,
      ),
    ]),
  ) as Record<Service, string[]>;
  const addresses = Object.fromEntries(
    SERVICES.map((service) => [service, instanceAddresses[service].join(',')]),
  ) as Record<Service, string>;
  // Where each instance serves /metrics: Prometheus's targets, by service (its job).
  const metricsTargets = Object.fromEntries(
    SERVICES.map((service, index) => [
      service,
      Array.from(
        { length: instances },
        (_, k) => `127.0.0.1:${instancePort(FIRST_METRICS_PORT + index, k)}`,
      ),
    ]),
  ) as Record<Service, string[]>;
  const metricsUrls = Object.fromEntries(
    SERVICES.map((service) => [
      service,
      metricsTargets[service].map((target) => `http://${target}/metrics`).join(','),
    ]),
  ) as Record<Service, string>;
  if (PG_MODE !== 'single' && PG_MODE !== 'pair') {
    throw new Error(`VAXGUARD_DEV_POSTGRES=${PG_MODE}: single (the default) or pair`);
  }
  const ports: [string, number][] = [
    ['PostgreSQL (VAXGUARD_DEV_PG_PORT)', PG_PORT],
    ...(PG_MODE === 'pair'
      ? ([
          ['the PostgreSQL standby (VAXGUARD_DEV_PG_PORT + 1)', PG_PAIR_PORTS.nodes[1]],
          ['the pg_auto_failover monitor (VAXGUARD_DEV_PG_PORT + 2)', PG_PAIR_PORTS.monitor],
        ] as [string, number][])
      : []),
    ['Kafka (VAXGUARD_DEV_KAFKA_PORT)', KAFKA_PORT],
    ['the certificate issuer (VAXGUARD_DEV_ISSUER_PORT)', ISSUER_HTTP_PORT],
    ['the audit log witness (VAXGUARD_DEV_WITNESS_PORT)', WITNESS_PORT],
    ['Prometheus (VAXGUARD_DEV_PROMETHEUS_PORT)', PROMETHEUS_PORT],
    ...SERVICES.flatMap((service, index) =>
      Array.from({ length: instances }, (_, k): [string, number] => [
        `${instanceLabel(service, k)}'s metrics (VAXGUARD_DEV_METRICS_PORT)`,
        instancePort(FIRST_METRICS_PORT + index, k),
      ]),
    ),
    ...Object.entries(JAEGER_PORTS).map(([use, port]): [string, number] => [
      `Jaeger's ${use} (VAXGUARD_DEV_JAEGER_PORT)`,
      port,
    ]),
    ['the web pages (VAXGUARD_DEV_WEB_PORT)', WEB_PORT],
    ...SERVICES.flatMap((service, index) =>
      Array.from({ length: instances }, (_, k): [string, number] => [
        `${instanceLabel(service, k)} (VAXGUARD_DEV_GRPC_PORT)`,
        instancePort(FIRST_SERVICE_PORT + index, k),
      ]),
    ),
  ];
  for (const [what, port] of ports) {
    if (await portInUse(port)) {
      throw new Error(`port ${port} for ${what} is taken; is another npm start running?`);
    }
  }

  await build();
  if (stopping) return;
  const infra = await startInfrastructure();
  if (stopping) return;
  const secrets = devSecrets();
  const auditStateDir = resolve(DEV_STATE, 'audit-state');
  // The audit log's kept checkpoint belongs with its database: containers start empty,
  // and a kept checkpoint of an earlier start's log would halt the new one as rolled back.
  if (infra.mode === 'containers') rmSync(auditStateDir, { recursive: true, force: true });
  witness = await startAuditWitness(infra.mode, secrets);
  if (stopping) return;
  jaeger = await startDevJaeger();
  if (stopping) return;
  const platform: PlatformLayout = {
    addresses,
    databases: await createDatabases(infra.adminUrl),
    brokers: infra.brokers,
    secrets,
    operatorClientId: DEMO_CLIENT,
    smsSink: resolve(DEV_STATE, 'sms.jsonl'),
    auditStateDir,
    auditWitnesses: `${witness.name}|${witness.url}|${witness.verifierKey}`,
    admin: {
      username: DEV_ADMIN,
      passwordHash: await hashStaffPasswordWithIdentity(secrets.adminPassword),
    },
    issuer: { url: ISSUER_URL, httpPort: ISSUER_HTTP_PORT },
    logLevel: env['LOG_LEVEL'] ?? 'info',
    metricsPorts: Object.fromEntries(
      SERVICES.map((service, index) => [service, FIRST_METRICS_PORT + index]),
    ),
    otlpEndpoint: jaeger.otlpEndpoint,
  };
  // Where everything is, for the vaxguard command line (npx vaxguard --help).
  writePlatformDescription(PLATFORM_FILE, {
    services: addresses,
    postgres: { adminUrl: infra.adminUrl, databases: platform.databases },
    kafkaBrokers: infra.brokers,
    client: { id: DEMO_CLIENT, secret: secrets.demoClientSecret },
    admin: { username: DEV_ADMIN, password: secrets.adminPassword },
    smsInbox: platform.smsSink,
    issuer: { url: ISSUER_URL, keysUrl: issuerKeysUrl },
    auditLog: {
      origin: AUDIT_LOG_ORIGIN,
      verifierKey: parseSignerKey(secrets.auditLogSignerKey).verifierKey,
    },
    witnesses: [{ name: witness.name, url: witness.url, verifierKey: witness.verifierKey }],
    metrics: { prometheus: PROMETHEUS_URL, services: metricsUrls },
  });

  say(`starting ${SERVICES.join(', ')}${instances > 1 ? `, ${instances} instances of each` : ''}`);
  // The OTP service first: the others verify tokens with its keys and hear revocations
  // on its topic, which it creates; started together, they race to create it. Later
  // instances once the first of every service serves.
  const statusOf = {} as Record<string, string>;
  type Instance = readonly [Service, number];
  const groups: Instance[][] = [
    [['otp', 0]],
    SERVICES.filter((service) => service !== 'otp').map((service): Instance => [service, 0]),
    SERVICES.flatMap((service) =>
      Array.from({ length: instances - 1 }, (_, k): Instance => [service, k + 1]),
    ),
  ];
  for (const group of groups.filter((instancesOfGroup) => instancesOfGroup.length > 0)) {
    for (const [service, instance] of group) {
      const environment = serviceEnvironment(service, platform, instance);
      if (instance === 0) {
        writeEnvFile(
          envFileOf(service),
          environment,
          `${service}'s environment, written by npm start; read by npx nx run ${service}:serve`,
        );
      }
      startService(service, environment, instance);
    }
    await Promise.all(
      group.map(async ([service, instance]) => {
        const label = instanceLabel(service, instance);
        statusOf[label] = await health(label, instanceAddresses[service][instance] as string);
      }),
    );
    if (stopping) return;
  }

  // The web pages, calling the four services through their public APIs as the client `web`.
  const webEnv = webEnvironment({
    addresses,
    secrets,
    hosts: '127.0.0.1',
    port: WEB_PORT,
    logLevel: platform.logLevel,
    smsInbox: shown(platform.smsSink),
  });
  writeEnvFile(
    envFileOf('web'),
    webEnv,
    "web's environment, written by npm start; read by npx nx run web:serve",
  );
  startService('web', webEnv);
  const webStatus = await webHealth(WEB_URL);
  if (stopping) return;

  // The demo's calls are traced as any client's would be: the tour names one of its traces.
  const demoTracing = await startTracing({
    service: 'npm-start-demo',
    endpoint: jaeger.otlpEndpoint,
  });
  const prometheus = await startDevPrometheus(metricsTargets);
  if (stopping) return;

  const demo =
    statusOf.otp === 'SERVING'
      ? await runDemo({
          otpAddress: addresses.otp,
          identityAddress: addresses.identity,
          vaccinationRecordAddress: addresses['vaccination-record'],
          issuer: ISSUER_URL,
          issuerKeysUrl,
          certificateDir: shown(DEV_STATE),
          clientId: DEMO_CLIENT,
          clientSecret: platform.secrets.demoClientSecret,
          smsSink: platform.smsSink,
          admin: { username: DEV_ADMIN, password: secrets.adminPassword },
          principalsFile: shown(resolve(DEV_STATE, 'demo-principals.json')),
          citizenMobileFile: CITIZEN_MOBILE_FILE,
        })
      : { lines: ['demo: skipped, the OTP service is not serving'] };
  await demoTracing.shutdown();

  // The log's public key, as an outside auditor would hold it, and a first witness round.
  const verifierKeyFile = resolve(DEV_STATE, 'audit-log.vkey');
  writeFileSync(verifierKeyFile, `${parseSignerKey(secrets.auditLogSignerKey).verifierKey}\n`);
  const witnessState = resolve(DEV_STATE, 'audit-log.witnessed');
  // Containers start empty: the log of an earlier start is gone, and with it what the
  // witness saw (local processes keep their data, and the witness its state).
  if (infra.mode === 'containers') {
    for (const file of [witnessState, `${witnessState}.leaves`]) rmSync(file, { force: true });
  }
  const witnessed =
    statusOf.audit === 'SERVING'
      ? await witnessAuditLog({
          address: addresses.audit,
          verifierKey: parseSignerKey(secrets.auditLogSignerKey).verifierKey,
          stateFile: witnessState,
          clientId: DEMO_CLIENT,
          clientSecret: secrets.demoClientSecret,
          // The entries are read as an auditor: the platform admin.
          auditor: {
            username: DEV_ADMIN,
            password: secrets.adminPassword,
            identityAddress: addresses.identity,
            otpAddress: addresses.otp,
            smsInbox: platform.smsSink,
          },
        }).catch((error: unknown) => [
          `audit log check failed: ${error instanceof Error ? error.message : String(error)}`,
        ])
      : ['audit: skipped, the audit service is not serving'];

  const rows = SERVICES.flatMap((service) =>
    instanceAddresses[service].map((address, instance) => {
      const label = instanceLabel(service, instance);
      const status = statusOf[label];
      const row = `  ${label.padEnd(20)} grpc://${address}   health: ${status}`;
      return status === 'SERVING' || instance > 0 ? row : `${row}; ${restartHint(service)}`;
    }),
  );
  const allServing = Object.values(statusOf).every((status) => status === 'SERVING');
  process.stdout.write(
    [
      '',
      style('1', allServing ? 'VaxGuard is running' : 'VaxGuard is running, not all of it'),
      ...rows,
      ...(instances > 1
        ? [
            `  ${''.padEnd(20)} ${instances} instances of each (--instances): every caller balances over them (round_robin over the list of addresses); logs in ${shown(DEV_LOGS)}/<service>-<n>.log; the issuer's keys are served by the first vaccination-record`,
          ]
        : []),
      ...(postgresPair
        ? [
            `  ${'postgresql'.padEnd(20)} postgres://vaxguard:vaxguard@${postgresPair.nodes.map((node) => node.address).join(',')}/  (databases vaxguard_<service>; target_session_attrs=read-write)`,
            `  ${''.padEnd(20)} primary and standby, synchronous, automatic failover: nodes ${postgresPair.nodes.map((node) => `${node.name} ${node.address}`).join(', ')}; pg_auto_failover monitor postgres://autoctl_node@${postgresPair.monitorAddress}/pg_auto_failover (docker exec ${PG_PAIR_PREFIX}-monitor … pg_autoctl show state)`,
          ]
        : [
            `  ${'postgresql'.padEnd(20)} postgres://vaxguard:vaxguard@127.0.0.1:${PG_PORT}/  (databases vaxguard_<service>)`,
          ]),
      `  ${'web'.padEnd(20)} ${WEB_URL}/   ${webStatus}: the citizen's page; sign in with the demo citizen's mobile (${shown(CITIZEN_MOBILE_FILE)}), the code is in the dev SMS inbox (${shown(platform.smsSink)})${webStatus === 'SERVING' ? '' : `; ${restartHint('web')}`}`,
      `  ${'kafka'.padEnd(20)} 127.0.0.1:${KAFKA_PORT}  (topics vaxguard.<service>.events)`,
      `  ${'issuer keys'.padEnd(20)} ${issuerKeysUrl}  (SMART Health Cards, issuer ${ISSUER_URL})`,
      `  ${'witness'.padEnd(20)} ${witness.url}  (litewitness ${witness.name}, cosigns the audit log; state in ${shown(WITNESS_STATE)}, log in ${shown(DEV_LOGS)}/witness.log)`,
      `  ${''.padEnd(20)} its key: ${witness.verifierKey}`,
      `  ${'jaeger'.padEnd(20)} ${jaeger.uiUrl}  (every call's trace, read at /api/traces/<trace id>; the services export to OTLP ${jaeger.otlpEndpoint}; traces kept in memory, log in ${shown(DEV_LOGS)}/jaeger.log)`,
      ...metricsRows(prometheus, metricsUrls),
      `  infrastructure:      ${infra.mode}`,
      '',
      `  demo client:         ${DEMO_CLIENT} (secret in ${shown(DEV_STATE)}/secrets.json)`,
      `  platform admin:      ${DEV_ADMIN} (password in ${shown(DEV_STATE)}/secrets.json; codes to its mobile land in the dev SMS inbox)`,
      `  dev SMS inbox:       ${shown(platform.smsSink)}`,
      ...demo.lines.map((line) => `  ${line}`),
      '',
      ...witnessed.map((line) => `  audit log: ${line}`),
      `  the log's public key: ${shown(verifierKeyFile)}; every service serves gRPC reflection (README: calling the services by hand)`,
      '',
      ...guidedTour({
        stateDir: shown(DEV_STATE),
        citizenMobileFile: shown(CITIZEN_MOBILE_FILE),
        ...(demo.vaccinated ? { vaccinated: demo.vaccinated } : {}),
        ...(demo.doseTraceId ? { traceUrl: `${jaeger.uiUrl}/api/traces/${demo.doseTraceId}` } : {}),
      }).map((line, index) => (index === 0 ? style('1', line) : line)),
      '',
      `  logs:                ${shown(DEV_LOGS)}/ (postgres, kafka, build, one per service)`,
      `  environments:        ${shown(DEV_STATE)}/env/<service>.env (restart one service: npx nx run <service>:serve)`,
      '  Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

main().catch(async (error: unknown) => {
  // Ctrl-C during a step makes it fail; that is no failure to report.
  if (stopping) return;
  say(`start failed: ${error instanceof Error ? error.message : String(error)}`);
  await stopAll(1);
});
