// The baseline of every RPC benchmark: a bare grpc-js unary echo, run as its own
// process like a service, answering on the port given as the first argument.
import { Server, ServerCredentials, type ServiceDefinition } from '@grpc/grpc-js';

const identity = (value: Buffer): Buffer => value;
export const echoService: ServiceDefinition = {
  echo: {
    path: '/bench.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

if (process.argv[2]) {
  const server = new Server();
  server.addService(echoService, {
    echo: (call: { request: Buffer }, callback: (error: null, value: Buffer) => void) =>
      callback(null, call.request),
  });
  server.bindAsync(`127.0.0.1:${process.argv[2]}`, ServerCredentials.createInsecure(), (error) => {
    if (error) throw error;
    process.stdout.write('ready\n');
  });
  process.on('SIGTERM', () => server.forceShutdown());
}
