// Applies the audit schema and exits: `npx nx run audit:migrate`.
import { migrateOnce, runMain } from '@vaxguard/runtime';
import { readConfig } from './config';
import { auditMigrations } from './migrations';

runMain('audit', () =>
  migrateOnce({ service: 'audit', ...readConfig(), migrations: auditMigrations }),
);
