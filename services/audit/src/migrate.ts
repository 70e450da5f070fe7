// Applies the audit schema and exits: `npx nx run audit:migrate` (needs only DATABASE_URL).
import { migrateOnce, runMain } from '@vaxguard/runtime';
import { readMigrateConfig } from './config';
import { auditMigrations } from './migrations';

runMain('audit', () =>
  migrateOnce({ service: 'audit', ...readMigrateConfig(), migrations: auditMigrations }),
);
