// Applies the OTP schema and exits: `npx nx run otp:migrate` (needs only DATABASE_URL).
import { migrateOnce, runMain } from '@vaxguard/runtime';
import { readMigrateConfig } from './config';
import { otpMigrations } from './migrations';

runMain('otp', () =>
  migrateOnce({ service: 'otp', ...readMigrateConfig(), migrations: otpMigrations }),
);
