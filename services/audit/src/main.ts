// The audit service's composition root: configuration, PostgreSQL, Kafka and the
// gRPC server are built and wired here and nowhere else.
import { clientSecretAuthenticator } from '@vaxguard/grpc-kit';
import { runMain, ServiceRuntime } from '@vaxguard/runtime';
import { readConfig } from './config';
import { auditMigrations } from './migrations';

runMain('audit', async () => {
  const config = readConfig();
  const runtime = await ServiceRuntime.create({
    service: 'audit',
    ...config,
    migrations: auditMigrations,
    authenticate: clientSecretAuthenticator(config.clientCredentials),
  });
  runtime.stopOnSignals();
  await runtime.start();
});
