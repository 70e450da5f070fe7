// `vaxguard status`: is every part of the platform there? Each service's (each
// instance's) grpc.health.v1, PostgreSQL and Kafka reachable, the issuer's keys served.
import type { Command } from 'commander';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { PLATFORM_SERVICES } from '@vaxguard/dev-platform';
import { checkHealth, serviceInstances } from '@vaxguard/grpc-kit';
import type { CliCommand } from '../cli';
import type { CommandContext } from '../context';
import { EXIT } from '../errors';
import { seconds } from '../parse';

interface Component {
  readonly name: string;
  /** Where it is, without credentials. */
  readonly address: string;
  readonly ok: boolean;
  /** SERVING, reachable, or what went wrong. */
  readonly status: string;
}

const reasonOf = (error: unknown): string => {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
};

async function serviceHealth(name: string, address: string, timeoutMs: number): Promise<Component> {
  try {
    const status = await checkHealth(address, '', timeoutMs);
    return { name, address, ok: status === 'SERVING', status };
  } catch (error) {
    return { name, address, ok: false, status: `unreachable: ${reasonOf(error)}` };
  }
}

async function postgres(adminUrl: string, timeoutMs: number): Promise<Component> {
  const url = new URL(adminUrl);
  const address = `${url.hostname}:${url.port || '5432'}`;
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: timeoutMs });
  // A connection that fails later (the server going away) must not crash the command.
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ version: string }>('SHOW server_version');
    return {
      name: 'postgresql',
      address,
      ok: true,
      status: `reachable (${rows[0]?.version ?? '?'})`,
    };
  } catch (error) {
    return { name: 'postgresql', address, ok: false, status: `unreachable: ${reasonOf(error)}` };
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function kafka(brokers: string, timeoutMs: number): Promise<Component> {
  const admin = new Kafka({
    clientId: 'vaxguard-cli-status',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return {
      name: 'kafka',
      address: brokers,
      ok: true,
      status: `reachable (${cluster.brokers.length} broker${cluster.brokers.length === 1 ? '' : 's'})`,
    };
  } catch (error) {
    return {
      name: 'kafka',
      address: brokers,
      ok: false,
      status: `unreachable: ${reasonOf(error)}`,
    };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function issuerKeys(keysUrl: string, timeoutMs: number): Promise<Component> {
  try {
    const response = await fetch(keysUrl, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) {
      return {
        name: 'issuer keys',
        address: keysUrl,
        ok: false,
        status: `HTTP ${response.status}`,
      };
    }
    const { keys } = (await response.json()) as { keys?: unknown[] };
    return {
      name: 'issuer keys',
      address: keysUrl,
      ok: true,
      status: `served (${keys?.length ?? 0} key${keys?.length === 1 ? '' : 's'})`,
    };
  } catch (error) {
    const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
    return {
      name: 'issuer keys',
      address: keysUrl,
      ok: false,
      status: `unreachable: ${reasonOf(cause)}`,
    };
  }
}

async function status(context: CommandContext, options: { timeout: number }) {
  const platform = context.platform();
  const timeoutMs = options.timeout * 1000;
  const components = await Promise.all([
    // A service that runs as several instances: each one checked on its own.
    ...PLATFORM_SERVICES.flatMap((service) => {
      const instances = serviceInstances(platform.services[service]);
      return instances.map((address, i) =>
        serviceHealth(instances.length > 1 ? `${service} #${i + 1}` : service, address, timeoutMs),
      );
    }),
    postgres(platform.postgres.adminUrl, timeoutMs),
    kafka(platform.kafkaBrokers, timeoutMs),
    issuerKeys(platform.issuer.keysUrl, timeoutMs),
  ]);
  const ok = components.every((component) => component.ok);
  const nothingAnswered = components.every((component) =>
    component.status.startsWith('unreachable'),
  );
  const width = Math.max(...components.map((component) => component.address.length));
  context.result(
    [
      ...components.map(
        (c) =>
          `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name.padEnd(20)} ${c.address.padEnd(width)}  ${c.status}`,
      ),
      ok
        ? 'every part of the platform answers'
        : nothingAnswered
          ? `nothing answers: is the platform running? (npm start, or --platform <file>)`
          : `${components.filter((c) => !c.ok).length} part(s) not healthy; logs of npm start: .vaxguard/dev/logs/`,
    ],
    { ok, components },
  );
  if (ok) return EXIT.ok;
  return nothingAnswered ? EXIT.unreachable : EXIT.failed;
}

export const statusCommand: CliCommand = {
  register(program: Command, kit) {
    program
      .command('status')
      .description(
        "health of every service (grpc.health.v1), PostgreSQL and Kafka reachable, the issuer's keys served",
      )
      .option('--timeout <seconds>', 'how long each part may take to answer', seconds, 3)
      .addHelpText(
        'after',
        '\nExits 0 when every part answers, 1 when some do not, 3 when none does.',
      )
      .action(kit.action(status));
  },
};
