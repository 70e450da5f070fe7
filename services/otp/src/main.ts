// The OTP service's entry point: reads configuration, builds the service (app.ts),
// serves, and drains on SIGINT/SIGTERM.
import { runMain } from '@vaxguard/runtime';
import { createOtpApp } from './app';
import { readConfig } from './config';

runMain('otp', async () => {
  const app = await createOtpApp(readConfig());
  app.runtime.stopOnSignals();
  await app.runtime.start();
});
