// Applies the vaccination-record schema and exits: `npx nx run vaccination-record:migrate` (needs only DATABASE_URL).
import { migrateOnce, runMain } from '@vaxguard/runtime';
import { readMigrateConfig } from './config';
import { vaccinationRecordMigrations } from './migrations';

runMain('vaccination-record', () =>
  migrateOnce({
    service: 'vaccination-record',
    ...readMigrateConfig(),
    migrations: vaccinationRecordMigrations,
  }),
);
