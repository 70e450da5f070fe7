// The identity service's entry point: reads the configuration and runs the app (app.ts).
import { runService } from '@vaxguard/runtime';
import { createIdentityApp } from './app';
import { readConfig } from './config';

runService('identity', () => createIdentityApp(readConfig()));
