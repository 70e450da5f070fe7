// The platform's container images (tools/images/service.sh) run as the chart runs them:
// each service's image with its environment against real PostgreSQL and Kafka, as user
// 10001 with a read-only root file system and /tmp (and the audit log's state) on tmpfs,
// the audit log cosigned by the witness's image. Each must report SERVING on
// grpc.health.v1 for its own service and exit 0 on SIGTERM (`docker stop`), having
// drained. Long (an image takes a minute or two to build the first time): it runs only
// with VAXGUARD_SERVICE_IMAGES=1, which `npx nx run k8s-check:images` sets after
// building the services and the images.
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLATFORM_SERVICES, type PlatformServiceName } from '@vaxguard/dev-platform';
import {
  checkHealth,
  completeSecrets,
  eventually,
  freePort,
  serviceEnvironment,
  startKafka,
  startPostgres,
  type KafkaFixture,
  type PlatformLayout,
  type PostgresFixture,
} from '@vaxguard/testing';
import { generateSignerKey } from '@vaxguard/tlog';
import { witnessVerifierKey } from '@vaxguard/witness';
import { REPO_ROOT } from './chart';

const run = promisify(execFile);
const ENABLED = process.env['VAXGUARD_SERVICE_IMAGES'] === '1';
const LOG_ORIGIN = 'audit.vaxguard.test/log';
const WITNESS_NAME = 'witness.vaxguard.test';
const RUN_AS = '10001';
/** The gRPC service each one's readiness probe asks for (deploy/vaxguard's values). */
const HEALTH_SERVICE: Record<PlatformServiceName, string> = {
  otp: 'vaxguard.otp.v1.OtpService',
  identity: 'vaxguard.identity.v1.IdentityService',
  'vaccination-record': 'vaxguard.vaccination_record.v1.VaccinationRecordService',
  audit: 'vaxguard.audit.v1.AuditService',
};

/** The image of `name`, built unless its inputs' tag exists. */
function image(name: string): string {
  const built = spawnSync('bash', ['tools/images/service.sh', name], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 900_000,
  });
  if (built.status !== 0) throw new Error(`service.sh ${name} failed:\n${built.stderr}`);
  return built.stdout.trim().split('\n').at(-1) ?? '';
}

/**
 * Starts an image on the host's network, read-only, its variables passed by name (the
 * values through docker's own environment, not its command line).
 */
async function runImage(
  ref: string,
  env: Record<string, string>,
  options: { tmpfs?: readonly string[]; volumes?: readonly string[] } = {},
): Promise<string> {
  const tmpfs = ['/tmp', ...(options.tmpfs ?? [])].flatMap((dir) => [
    '--tmpfs',
    `${dir}:rw,uid=${RUN_AS},gid=${RUN_AS}`,
  ]);
  const { stdout } = await run(
    'docker',
    [
      'run',
      '--detach',
      '--network=host',
      '--read-only',
      '--label=vaxguard.test=true',
      ...tmpfs,
      ...(options.volumes ?? []).flatMap((volume) => ['--volume', volume]),
      ...Object.keys(env).flatMap((name) => ['--env', name]),
      ref,
    ],
    { env: { PATH: process.env['PATH'] ?? '', ...env } },
  );
  return stdout.trim();
}

const logsOf = async (container: string) => {
  const { stdout, stderr } = await run('docker', ['logs', container]);
  return stdout + stderr;
};

describe.skipIf(!ENABLED)('the container images, run as the chart runs them', () => {
  let postgres: PostgresFixture;
  let kafka: KafkaFixture;
  let keyDir: string;
  const containers = new Map<string, string>();
  const addresses = {} as Record<PlatformServiceName, string>;

  beforeAll(async () => {
    const refs = Object.fromEntries(
      [...PLATFORM_SERVICES, 'witness'].map((name) => [name, image(name)]),
    );
    [postgres, kafka] = await Promise.all([startPostgres(), startKafka()]);
    const databases = {} as Record<PlatformServiceName, string>;
    for (const service of PLATFORM_SERVICES) {
      addresses[service] = `127.0.0.1:${await freePort()}`;
      databases[service] = await postgres.createDatabase();
    }

    // The witness: its key mounted as the chart mounts its Secret.
    keyDir = mkdtempSync(join(tmpdir(), 'vaxguard-witness-key-'));
    const keyFile = join(keyDir, 'witness-key');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', WITNESS_NAME, '-f', keyFile]);
    chmodSync(keyFile, 0o644);
    chmodSync(keyDir, 0o755);
    const log = generateSignerKey(LOG_ORIGIN);
    const witnessPort = await freePort();
    containers.set(
      'witness',
      await runImage(
        refs['witness'] as string,
        {
          WITNESS_NAME,
          WITNESS_PORT: String(witnessPort),
          WITNESS_LOGS: `${LOG_ORIGIN}|${log.verifierKey}`,
          WITNESS_KEY_FILE: '/etc/vaxguard/witness/witness-key',
          WITNESS_DB: '/tmp/witness/witness.db',
        },
        { volumes: [`${keyDir}:/etc/vaxguard/witness:ro`] },
      ),
    );
    const witnessUrl = `http://127.0.0.1:${witnessPort}`;
    await eventually(async () => (await fetch(witnessUrl)).arrayBuffer(), { timeoutMs: 30_000 });

    const issuerPort = await freePort();
    const layout: PlatformLayout = {
      addresses,
      databases,
      brokers: kafka.brokers.join(','),
      secrets: completeSecrets(LOG_ORIGIN, { auditLogSignerKey: log.signerKey }),
      operatorClientId: 'partner-portal',
      smsSink: '/tmp/inbox.jsonl',
      auditStateDir: '/var/lib/vaxguard/audit',
      auditWitnesses: `${WITNESS_NAME}|${witnessUrl}|${witnessVerifierKey(WITNESS_NAME, readFileSync(`${keyFile}.pub`, 'utf8'))}`,
      admin: { username: 'admin', passwordHash: '$scrypt$ln=17,r=8,p=1$c2FsdA$aGFzaA' },
      issuer: { url: `http://127.0.0.1:${issuerPort}`, httpPort: issuerPort },
      logLevel: 'info',
    };
    // Those called first start first, as the chart's probes would hold them.
    for (const service of ['otp', 'identity', 'vaccination-record', 'audit'] as const) {
      const container = await runImage(
        refs[service] as string,
        serviceEnvironment(service, layout),
        {
          tmpfs: service === 'audit' ? [layout.auditStateDir] : [],
        },
      );
      containers.set(service, container);
    }
  }, 1_200_000);

  afterAll(async () => {
    if (containers.size > 0) await run('docker', ['rm', '--force', ...containers.values()]);
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
    await kafka?.[Symbol.asyncDispose]();
    await postgres?.[Symbol.asyncDispose]();
  }, 120_000);

  it.each(PLATFORM_SERVICES)('%s serves: SERVING for its own service', async (service) => {
    const container = containers.get(service) as string;
    const status = await eventually(
      async () => {
        const health = await checkHealth(addresses[service], HEALTH_SERVICE[service]);
        if (health !== 'SERVING') throw new Error(`${service}: ${health}`);
        return health;
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    ).catch(async (error: unknown) => {
      throw new Error(`${String(error)}\n${await logsOf(container)}`);
    });
    expect(status).toBe('SERVING');
  });

  it('every image stops cleanly on SIGTERM', async () => {
    for (const name of ['audit', 'vaccination-record', 'identity', 'otp', 'witness']) {
      const container = containers.get(name) as string;
      await run('docker', ['stop', '--time', '30', container]);
      const { stdout } = await run('docker', [
        'inspect',
        '--format',
        '{{.State.ExitCode}}',
        container,
      ]);
      expect(`${name}: ${stdout.trim()}`).toBe(`${name}: 0`);
    }
  }, 180_000);
});
