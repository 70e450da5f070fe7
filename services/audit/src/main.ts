// The audit service's entry point: reads the configuration and runs the app (app.ts).
import { runService } from '@vaxguard/runtime';
import { createAuditApp } from './app';
import { readConfig } from './config';

runService('audit', () => createAuditApp(readConfig()));
