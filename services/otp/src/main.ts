// The OTP service's entry point: reads the configuration and runs the app (app.ts).
import { runService } from '@vaxguard/runtime';
import { createOtpApp } from './app';
import { readConfig } from './config';

runService('otp', () => createOtpApp(readConfig()));
