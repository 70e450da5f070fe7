import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import { dockerStart, dockerStop, freePort, log, testLabels, waitForLog } from './containers';
import { ensureImage } from './images';

/**
 * A listener of the broker besides the one `brokers` names, advertised at an address of
 * the test's choosing: a client bootstrapped through it is told to connect there again,
 * so a proxy on that address sits on every connection the client makes.
 */
export interface KafkaListener {
  /** The listener's name (letters, digits and underscores; upper case in the broker). */
  readonly name: string;
  /** The port on 127.0.0.1 the broker advertises for it (the proxy's). */
  readonly advertisedPort: number;
}

export interface KafkaFixture extends AsyncDisposable {
  readonly brokers: readonly string[];
  /** Where an extra listener really is, `127.0.0.1:<port>` (what its proxy forwards to). */
  listenerAddress(name: string): string;
  /** Whether this fixture owns the broker and can take it down (not for TEST_KAFKA_BROKERS). */
  readonly controllable: boolean;
  /** Stops the broker, keeping its data, as an outage would. */
  pause(): Promise<void>;
  /** Starts it again on the same address and waits until it is serving. */
  resume(): Promise<void>;
  stop(): Promise<void>;
}

const READY = /Kafka Server started/;

/**
 * A real Apache Kafka broker (single node, KRaft) for a test: a container from the
 * locally built image, or the brokers named by TEST_KAFKA_BROKERS.
 */
export async function startKafka(
  options: { readonly listeners?: readonly KafkaListener[] } = {},
): Promise<KafkaFixture> {
  const extraListeners = (options.listeners ?? []).map((listener) => ({
    ...listener,
    name: listener.name.toUpperCase(),
  }));
  for (const { name } of extraListeners) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(name) || ['PLAINTEXT', 'CONTROLLER'].includes(name))
      throw new Error(
        `Kafka listener name ${name}: letters, digits, _, not PLAINTEXT or CONTROLLER`,
      );
  }
  const external = process.env['TEST_KAFKA_BROKERS'];
  if (external) {
    if (extraListeners.length > 0)
      throw new Error('an external broker (TEST_KAFKA_BROKERS) has no listeners a test can add');
    const brokers = external
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean);
    const refuse = async (): Promise<void> => {
      throw new Error('an external broker (TEST_KAFKA_BROKERS) cannot be paused by a test');
    };
    return {
      brokers,
      controllable: false,
      listenerAddress: (name) => {
        throw new Error(`an external broker has no listener ${name}`);
      },
      pause: refuse,
      resume: refuse,
      stop: async () => undefined,
      [Symbol.asyncDispose]: async () => undefined,
    };
  }

  let container: StartedTestContainer | undefined;
  try {
    const image = await ensureImage('kafka');
    // A fixed host port: the broker advertises it, and it must survive a stop/start.
    const port = await freePort();
    // Each extra listener on its own container port past the controller's (9093), published
    // on a fixed host port as the main one is.
    const extras = await Promise.all(
      extraListeners.map(async (listener, index) => ({
        ...listener,
        containerPort: 9094 + index,
        hostPort: await freePort(),
      })),
    );
    const started = Date.now();
    container = await new GenericContainer(image)
      .withEnvironment({ KAFKA_ADVERTISED_LISTENER: `PLAINTEXT://127.0.0.1:${port}` })
      .withExposedPorts(
        { container: 9092, host: port },
        ...extras.map((extra) => ({ container: extra.containerPort, host: extra.hostPort })),
      )
      .withCommand(extras.length === 0 ? [] : listenerOverrides(port, extras))
      .withLabels(testLabels())
      .withWaitStrategy(Wait.forLogMessage(READY))
      .withStartupTimeout(120_000)
      .start();
    const owned = container;
    log(
      `Kafka container ${owned.getId().slice(0, 12)} (${image}) ready on 127.0.0.1:${port} in ${Date.now() - started} ms`,
    );

    let stopped = false;
    const stop = async (): Promise<void> => {
      if (stopped) return;
      stopped = true;
      await owned.stop({ remove: true, removeVolumes: true });
    };
    return {
      brokers: [`127.0.0.1:${port}`],
      controllable: true,
      listenerAddress(name) {
        const extra = extras.find((candidate) => candidate.name === name.toUpperCase());
        if (!extra) throw new Error(`the broker has no listener ${name}`);
        return `127.0.0.1:${extra.hostPort}`;
      },
      async pause() {
        await dockerStop(owned);
        log(`Kafka container ${owned.getId().slice(0, 12)} stopped`);
      },
      async resume() {
        const since = Math.floor(Date.now() / 1000);
        await dockerStart(owned);
        await waitForLog(owned, READY, since);
        log(`Kafka container ${owned.getId().slice(0, 12)} back on 127.0.0.1:${port}`);
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    if (container) await container.stop({ remove: true }).catch(() => undefined);
    throw error;
  }
}

/**
 * Arguments for kafka.Kafka (the image's entrypoint passes them on) that add the extra
 * listeners to those the entrypoint configures. All three settings are overrides: the
 * entrypoint formats the storage with its own file, which must stay valid on its own.
 */
function listenerOverrides(
  port: number,
  extras: readonly {
    readonly name: string;
    readonly containerPort: number;
    readonly advertisedPort: number;
  }[],
): string[] {
  const listeners = [
    'PLAINTEXT://0.0.0.0:9092',
    'CONTROLLER://127.0.0.1:9093',
    ...extras.map((extra) => `${extra.name}://0.0.0.0:${extra.containerPort}`),
  ];
  const protocols = ['PLAINTEXT', 'CONTROLLER', ...extras.map((extra) => extra.name)].map(
    (name) => `${name}:PLAINTEXT`,
  );
  const advertised = [
    `PLAINTEXT://127.0.0.1:${port}`,
    ...extras.map((extra) => `${extra.name}://127.0.0.1:${extra.advertisedPort}`),
  ];
  return [
    '--override',
    `listeners=${listeners.join(',')}`,
    '--override',
    `advertised.listeners=${advertised.join(',')}`,
    '--override',
    `listener.security.protocol.map=${protocols.join(',')}`,
  ];
}
