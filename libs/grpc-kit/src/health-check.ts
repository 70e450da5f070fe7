import {
  credentials,
  makeGenericClientConstructor,
  type Client,
  type ServiceError,
} from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { grpcTarget } from './address';
import { unaryCall } from './client';

const HealthClient = makeGenericClientConstructor(healthService, 'grpc.health.v1.Health');
type HealthCheck = (
  request: { service: string },
  options: { deadline: Date },
  callback: (error: ServiceError | null, response: { status: number | string }) => void,
) => void;

const SERVING_STATUS: Record<number, string> = {
  0: 'UNKNOWN',
  1: 'SERVING',
  2: 'NOT_SERVING',
  3: 'SERVICE_UNKNOWN',
};

/**
 * Asks a server's grpc.health.v1 for a service's status (`''`: the whole server), by
 * its name (`SERVING`, `NOT_SERVING`...). Rejects with the grpc-js error when the server
 * does not answer within `timeoutMs`. An address that names several instances asks the
 * first that answers: ask each (`serviceInstances`) to know them all.
 */
export async function checkHealth(
  address: string,
  service = '',
  timeoutMs = 2_000,
): Promise<string> {
  const client = new HealthClient(
    grpcTarget(address),
    credentials.createInsecure(),
  ) as unknown as Client & {
    check: HealthCheck;
  };
  try {
    const { status } = await unaryCall<{ status: number | string }>((done) =>
      client.check({ service }, { deadline: new Date(Date.now() + timeoutMs) }, done),
    );
    return typeof status === 'number' ? (SERVING_STATUS[status] ?? String(status)) : status;
  } finally {
    client.close();
  }
}
