export * from './auth';
export * from './client';
export * from './server';
export type { ServerStreamHandler } from './server-stream';
export * from './status';
export * from './service-client';
export {
  DEFAULT_RETRY_POLICY,
  RETRYABLE_CODES,
  retryDelayMs,
  type RetryContext,
  type RetryPolicy,
} from './retry';
export * from './health-check';
