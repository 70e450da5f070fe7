// Applies the OTP schema and exits: `npx nx run otp:migrate`.
import { migrateOnce, runMain } from '@vaxguard/runtime';
import { readConfig } from './config';
import { otpMigrations } from './migrations';

runMain('otp', () => migrateOnce({ service: 'otp', ...readConfig(), migrations: otpMigrations }));
