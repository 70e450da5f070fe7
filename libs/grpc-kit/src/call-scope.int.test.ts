// grpc-js emits 'cancelled' on a server call when its stream closes, also after the
// answer went out; a call scope closed when its handler finished must not read that as
// the caller cancelling (work the call started that other calls share would be cut short).
import {
  credentials,
  makeGenericClientConstructor,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceDefinition,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { openCallScope, type CallScope } from './call-scope';

const ECHO = {
  echo: {
    path: '/test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: Buffer) => value,
    requestDeserialize: (bytes: Buffer) => bytes,
    responseSerialize: (value: Buffer) => value,
    responseDeserialize: (bytes: Buffer) => bytes,
  },
} satisfies ServiceDefinition;

describe('call scope over a real socket', () => {
  it('a call answered and closed keeps its signal when grpc-js then emits cancelled', async () => {
    const server = new Server();
    let scope: CallScope | undefined;
    let cancelledEmitted: () => void = () => undefined;
    const emitted = new Promise<void>((resolve) => (cancelledEmitted = resolve));
    server.addService(ECHO, {
      echo: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        scope = openCallScope(call, 60_000);
        call.on('cancelled', () => cancelledEmitted());
        // As the kit's server does: the scope is closed, then the answer sent.
        scope.close();
        callback(null, Buffer.from('ok'));
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    const Client = makeGenericClientConstructor(ECHO, 'Echo');
    const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      const answer = await new Promise<Buffer>((resolve, reject) =>
        client.makeUnaryRequest(
          ECHO.echo.path,
          ECHO.echo.requestSerialize,
          ECHO.echo.responseDeserialize,
          Buffer.from('hi'),
          (error, response) =>
            error || !response ? reject(error ?? new Error('no answer')) : resolve(response),
        ),
      );
      expect(answer.toString()).toBe('ok');
      // grpc-js does emit it for an answered call (what the scope must not take as a cancel).
      await emitted;
      expect(scope?.signal.aborted).toBe(false);
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
});
