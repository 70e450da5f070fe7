// Applies the vaccination-record schema and exits: `npx nx run vaccination-record:migrate`.
import { migrateOnce, runMain } from '@vaxguard/runtime';
import { readConfig } from './config';
import { vaccinationRecordMigrations } from './migrations';

runMain('vaccination-record', () =>
  migrateOnce({
    service: 'vaccination-record',
    ...readConfig(),
    migrations: vaccinationRecordMigrations,
  }),
);
