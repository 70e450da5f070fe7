// Sends a request's bytes as they are to a service: a generic grpc-js client with
// identity serializers, so nothing on this side re-encodes, checks or refuses them.
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { CLIENT_ID_HEADER, readStatusDetails } from '@vaxguard/grpc-kit';
import { TOKEN_HEADER } from '@vaxguard/tokens';
import type { ClientCredentials, FuzzRequest } from './requests';

/** What a service answered: its status name, and the text a leak scan reads. */
export interface Answer {
  readonly status: string;
  /** A refusal's ErrorInfo reason, when it has one. */
  readonly reason?: string;
  /** The response bytes (latin1) or the status message with its details. */
  readonly text: string;
}

const identity = (bytes: Buffer) => bytes;

export interface RawCaller {
  call(address: string, request: FuzzRequest, token: string | undefined): Promise<Answer>;
  close(): void;
}

export function createRawCaller(options: {
  /** The client the tokens were issued to. */
  readonly client: { readonly clientId: string; readonly secret: string };
  /** Another configured client. */
  readonly otherClient: { readonly clientId: string; readonly secret: string };
  readonly deadlineMs: number;
}): RawCaller {
  const clients = new Map<string, Client>();
  const clientFor = (address: string) => {
    let client = clients.get(address);
    if (!client) {
      // A client's own size limits are lifted: the server's are under test.
      client = new Client(address, credentials.createInsecure(), {
        'grpc.max_send_message_length': -1,
        'grpc.max_receive_message_length': -1,
      });
      clients.set(address, client);
    }
    return client;
  };
  const metadataFor = (client: ClientCredentials, token: string | undefined) => {
    const metadata = new Metadata();
    if (client !== 'none') {
      const { clientId, secret } = client === 'other-client' ? options.otherClient : options.client;
      metadata.set(CLIENT_ID_HEADER, client === 'unknown-client' ? 'fuzz-nobody' : clientId);
      metadata.set('authorization', `Bearer ${client === 'wrong-secret' ? `${secret}x` : secret}`);
    }
    if (token !== undefined) metadata.set(TOKEN_HEADER, token);
    return metadata;
  };
  // The message and the reason a caller reads (the details' binary is not text to scan).
  const refused = (error: ServiceError): Answer => {
    const { reason } = readStatusDetails(error);
    return {
      status: status[error.code] ?? String(error.code),
      ...(reason === undefined ? {} : { reason }),
      text: `${error.details}\n${reason ?? ''}`,
    };
  };
  return {
    call(address, request, token) {
      const client = clientFor(address);
      const metadata = metadataFor(request.client, token);
      const deadline = new Date(Date.now() + options.deadlineMs);
      const argument = Buffer.from(request.bytes);
      if (!request.rpc.serverStreaming) {
        return new Promise((resolve) => {
          client.makeUnaryRequest(
            request.rpc.path,
            identity,
            identity,
            argument,
            metadata,
            { deadline },
            (error, response) =>
              resolve(
                error
                  ? refused(error)
                  : { status: 'OK', text: response ? response.toString('latin1') : '' },
              ),
          );
        });
      }
      return new Promise((resolve) => {
        const chunks: Buffer[] = [];
        const stream = client.makeServerStreamRequest(
          request.rpc.path,
          identity,
          identity,
          argument,
          metadata,
          { deadline },
        );
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('error', (error: ServiceError) => resolve(refused(error)));
        stream.on('status', (final: { code: status }) => {
          if (final.code === status.OK)
            resolve({ status: 'OK', text: Buffer.concat(chunks).toString('latin1') });
        });
      });
    },
    close() {
      for (const client of clients.values()) client.close();
    },
  };
}
