// `npm start`: the whole platform on this machine. Builds the services, brings up
// PostgreSQL and Kafka (containers when a Docker engine answers, otherwise local
// processes from the same Debian packages and Maven jars), creates each service's
// database, starts the four services, seeds demo data and prints where everything is.
// Ctrl-C stops all of it.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { resolve } from 'node:path';
import pg from 'pg';
import { checkHealth, eventually } from '@vaxguard/testing';
import { runDemo } from './demo';

const ROOT = resolve(import.meta.dirname, '../..');
const STATE = resolve(ROOT, '.vaxguard/dev');
const env = process.env;
const PG_PORT = Number(env['VAXGUARD_DEV_PG_PORT'] ?? 55432);
const KAFKA_PORT = Number(env['VAXGUARD_DEV_KAFKA_PORT'] ?? 59092);
const FIRST_SERVICE_PORT = Number(env['VAXGUARD_DEV_GRPC_PORT'] ?? 50051);
const SERVICES = ['identity', 'otp', 'vaccination-record', 'audit'] as const;
const DEMO_CLIENT = 'demo-portal';

const children: { name: string; child: ChildProcess }[] = [];
const containers: string[] = [];

function say(message: string): void {
  process.stdout.write(`\x1b[1m[vaxguard]\x1b[0m ${message}\n`);
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

function prefixOutput(name: string, child: ChildProcess): void {
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) process.stdout.write(`[${name}] ${line}\n`);
    });
  }
}

function startChild(
  name: string,
  command: string,
  args: string[],
  extraEnv: Record<string, string> = {},
): ChildProcess {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  prefixOutput(name, child);
  children.push({ name, child });
  return child;
}

interface Secrets {
  otpHashKey: string;
  mobileIndexKey: string;
  keyEncryptionKey: string;
  demoClientSecret: string;
}

/** Development secrets, made once and kept so tokens and data survive a restart. */
function devSecrets(): Secrets {
  const file = resolve(STATE, 'secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Secrets;
  const key = () => randomBytes(32).toString('base64');
  const secrets = {
    otpHashKey: key(),
    mobileIndexKey: key(),
    keyEncryptionKey: key(),
    demoClientSecret: randomBytes(24).toString('base64url'),
  };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
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

async function startInfrastructure(): Promise<{ adminUrl: string; brokers: string; mode: string }> {
  for (const [what, port] of [
    ['PostgreSQL', PG_PORT],
    ['Kafka', KAFKA_PORT],
  ] as const) {
    if (await portInUse(port))
      throw new Error(`port ${port} for ${what} is taken; is another npm start running?`);
  }
  let mode: string;
  if (env['VAXGUARD_DEV_INFRA'] !== 'local' && dockerAvailable()) {
    mode = 'containers';
    const image = (name: string) =>
      execFileSync('bash', ['tools/images/build.sh', name], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
      })
        .toString()
        .trim()
        .split('\n')
        .pop() as string;
    say('building or reusing the PostgreSQL and Kafka images');
    const pgImage = image('postgres');
    const kafkaImage = image('kafka');
    for (const [name, ref, args] of [
      ['vaxguard-dev-postgres', pgImage, ['-p', `127.0.0.1:${PG_PORT}:5432`]],
      [
        'vaxguard-dev-kafka',
        kafkaImage,
        [
          '-p',
          `127.0.0.1:${KAFKA_PORT}:9092`,
          '-e',
          `KAFKA_ADVERTISED_LISTENER=PLAINTEXT://127.0.0.1:${KAFKA_PORT}`,
        ],
      ],
    ] as const) {
      await runContainer(name, [...args, ref]);
      containers.push(name);
      const logs = spawn('docker', ['logs', '-f', name], { stdio: ['ignore', 'pipe', 'pipe'] });
      prefixOutput(name.replace('vaxguard-dev-', ''), logs);
      children.push({ name: `${name}-logs`, child: logs });
    }
  } else {
    mode = 'local processes';
    startChild('postgres', 'bash', [
      'tools/images/run-local.sh',
      'postgres',
      resolve(STATE, 'postgres'),
      String(PG_PORT),
    ]);
    startChild('kafka', 'bash', [
      'tools/images/run-local.sh',
      'kafka',
      resolve(STATE, 'kafka'),
      String(KAFKA_PORT),
    ]);
  }
  const adminUrl = `postgres://vaxguard:vaxguard@127.0.0.1:${PG_PORT}/vaxguard`;
  say('waiting for PostgreSQL and Kafka');
  await eventually(
    async () => {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.end();
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
  await eventually(
    async () => {
      if (!(await portInUse(KAFKA_PORT))) throw new Error('Kafka not listening yet');
    },
    { timeoutMs: 180_000, intervalMs: 500 },
  );
  return { adminUrl, brokers: `127.0.0.1:${KAFKA_PORT}`, mode };
}

async function createDatabases(adminUrl: string): Promise<Record<string, string>> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  const urls: Record<string, string> = {};
  try {
    for (const service of SERVICES) {
      const name = `vaxguard_${service.replace('-', '_')}`;
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
        name,
      ]);
      if (rowCount === 0) await client.query(`CREATE DATABASE ${name}`);
      urls[service] = adminUrl.replace(/\/vaxguard$/, `/${name}`);
    }
  } finally {
    await client.end();
  }
  return urls;
}

let stopping = false;
async function stopAll(code: number): Promise<never> {
  if (stopping) process.exit(code);
  stopping = true;
  say('stopping services');
  const exits = children
    .filter(({ child }) => child.exitCode === null && child.signalCode === null)
    .map(
      ({ child }) =>
        new Promise<void>((done) => {
          child.once('exit', () => done());
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
        }),
    );
  await Promise.all(exits);
  for (const name of containers) spawnSync('docker', ['rm', '-f', name], { stdio: 'ignore' });
  say('stopped');
  process.exit(code);
}

async function main(): Promise<void> {
  mkdirSync(STATE, { recursive: true });
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  say('building the services');
  const build = spawnSync(
    'npx',
    ['nx', 'run-many', '-t', 'build', '-p', ...SERVICES, '--outputStyle=static'],
    {
      cwd: ROOT,
      stdio: 'inherit',
      env: { ...env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
    },
  );
  if (build.status !== 0) throw new Error('build failed');

  const infra = await startInfrastructure();
  const databases = await createDatabases(infra.adminUrl);
  const secrets = devSecrets();
  const clientHash = createHash('sha256').update(secrets.demoClientSecret).digest('hex');
  const smsSink = resolve(STATE, 'sms.jsonl');

  const addresses: Record<string, string> = {};
  SERVICES.forEach((service, index) => {
    const port = FIRST_SERVICE_PORT + index;
    addresses[service] = `127.0.0.1:${port}`;
    startChild(
      service,
      process.execPath,
      ['--enable-source-maps', `services/${service}/dist/main.js`],
      {
        GRPC_HOST: '127.0.0.1',
        GRPC_PORT: String(port),
        DATABASE_URL: databases[service] as string,
        KAFKA_BROKERS: infra.brokers,
        CLIENT_CREDENTIALS: `${DEMO_CLIENT}:${clientHash}`,
        LOG_LEVEL: env['LOG_LEVEL'] ?? 'info',
        OTP_HASH_KEY: secrets.otpHashKey,
        MOBILE_INDEX_KEY: secrets.mobileIndexKey,
        OTP_KEY_ENCRYPTION_KEY: secrets.keyEncryptionKey,
        OTP_SMS_DELIVERY: 'dev-sink',
        OTP_DEV_SMS_SINK: smsSink,
      },
    );
  });
  for (const { name, child } of children) {
    child.once('exit', (code) => {
      if (!stopping) {
        say(`${name} exited unexpectedly (${code}); stopping everything`);
        void stopAll(1);
      }
    });
  }
  await Promise.all(
    SERVICES.map((service) =>
      eventually(
        async () => {
          const status = await checkHealth(addresses[service] as string);
          if (status !== 'SERVING') throw new Error(`${service} is ${status}`);
        },
        { timeoutMs: 120_000, intervalMs: 300 },
      ),
    ),
  );

  const demo = await runDemo({
    otpAddress: addresses['otp'] as string,
    clientId: DEMO_CLIENT,
    clientSecret: secrets.demoClientSecret,
    smsSink,
  });

  const rows = SERVICES.map(
    (service) => `  ${service.padEnd(20)} grpc://${addresses[service]}   health: SERVING`,
  );
  process.stdout.write(
    [
      '',
      '\x1b[1mVaxGuard is running\x1b[0m',
      ...rows,
      `  ${'postgresql'.padEnd(20)} postgres://vaxguard:vaxguard@127.0.0.1:${PG_PORT}/  (databases vaxguard_<service>)`,
      `  ${'kafka'.padEnd(20)} 127.0.0.1:${KAFKA_PORT}  (topics vaxguard.<service>.events)`,
      `  infrastructure:      ${infra.mode}`,
      '',
      `  demo client:         ${DEMO_CLIENT} (secret in .vaxguard/dev/secrets.json)`,
      `  dev SMS inbox:       ${smsSink}`,
      ...demo.map((line) => `  ${line}`),
      '',
      '  Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

main().catch(async (error: unknown) => {
  say(`start failed: ${error instanceof Error ? error.message : String(error)}`);
  await stopAll(1);
});
