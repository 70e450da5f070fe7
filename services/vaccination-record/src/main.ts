// The vaccination-record service's entry point: reads the configuration and runs the app (app.ts).
import { runService } from '@vaxguard/runtime';
import { createVaccinationRecordApp } from './app';
import { readConfig } from './config';

runService('vaccination-record', () => createVaccinationRecordApp(readConfig()));
