// The identity service's composition root: configuration, PostgreSQL, Kafka and the
// gRPC server are built and wired here and nowhere else.
import { clientSecretAuthenticator } from '@vaxguard/grpc-kit';
import { runMain, ServiceRuntime } from '@vaxguard/runtime';
import { readConfig } from './config';
import { identityMigrations } from './migrations';

runMain('identity', async () => {
  const config = readConfig();
  const runtime = await ServiceRuntime.create({
    service: 'identity',
    ...config,
    migrations: identityMigrations,
    authenticate: clientSecretAuthenticator(config.clientCredentials),
  });
  runtime.stopOnSignals();
  await runtime.start();
});
