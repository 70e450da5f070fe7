// Applies the identity schema and exits: `npx nx run identity:migrate`.
import { migrateOnce, runMain } from '@vaxguard/runtime';
import { readConfig } from './config';
import { identityMigrations } from './migrations';

runMain('identity', () =>
  migrateOnce({ service: 'identity', ...readConfig(), migrations: identityMigrations }),
);
