import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import { dockerStart, dockerStop, freePort, log, testLabels } from './containers';
import { ensureImage } from './images';

export interface KafkaFixture extends AsyncDisposable {
  readonly brokers: readonly string[];
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
export async function startKafka(): Promise<KafkaFixture> {
  const external = process.env['TEST_KAFKA_BROKERS'];
  if (external) {
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
    const started = Date.now();
    container = await new GenericContainer(image)
      .withEnvironment({ KAFKA_ADVERTISED_LISTENER: `PLAINTEXT://127.0.0.1:${port}` })
      .withExposedPorts({ container: 9092, host: port })
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

async function waitForLog(
  container: StartedTestContainer,
  pattern: RegExp,
  sinceSeconds: number,
): Promise<void> {
  const stream = await container.logs({ since: sinceSeconds });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new Error(`container did not log ${String(pattern)} within 120 s`));
    }, 120_000);
    stream.on('data', (chunk: Buffer | string) => {
      if (pattern.test(chunk.toString())) {
        clearTimeout(timer);
        stream.destroy();
        resolve();
      }
    });
    stream.on('error', (error: Error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
