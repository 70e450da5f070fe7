import { credentials, Metadata, type ChannelOptions, type ServiceError } from '@grpc/grpc-js';
import { CLIENT_ID_HEADER } from './auth';

/** Metadata a client application sends to authenticate itself. */
export function clientMetadata(clientId: string, secret: string): Metadata {
  const metadata = new Metadata();
  metadata.set(CLIENT_ID_HEADER, clientId);
  metadata.set('authorization', `Bearer ${secret}`);
  return metadata;
}

export const insecureCredentials = credentials.createInsecure;

export const defaultChannelOptions: ChannelOptions = {
  'grpc.keepalive_time_ms': 30_000,
  // grpc-js's transparent retry: an attempt it knows never reached the server's
  // application (refused, or never sent) is sent again, whatever the call's idempotency.
  'grpc.enable_retries': 1,
};

/** A deadline `ms` from now, for call options. */
export function deadlineIn(ms: number): Date {
  return new Date(Date.now() + ms);
}

/**
 * Promise form of a grpc-js unary call: `unaryCall<Res>((done) => client.method(req, md, done))`.
 */
export function unaryCall<Res>(
  invoke: (done: (error: ServiceError | null, response: Res) => void) => unknown,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    invoke((error, response) => (error ? reject(error) : resolve(response)));
  });
}
