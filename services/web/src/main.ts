// The web service's entry point: reads the configuration and runs the app (app.ts).
import { runMain } from '@vaxguard/runtime';
import { createWebApp } from './app';
import { readConfig } from './config';

runMain('web', async () => {
  const app = await createWebApp(readConfig());
  app.stopOnSignals();
  await app.start();
});
