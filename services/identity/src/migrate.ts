// Applies the identity schema and exits: `npx nx run identity:migrate` (needs only DATABASE_URL).
import { migrateOnce, runMain } from '@vaxguard/runtime';
import { readMigrateConfig } from './config';
import { identityMigrations } from './migrations';

runMain('identity', () =>
  migrateOnce({ service: 'identity', ...readMigrateConfig(), migrations: identityMigrations }),
);
