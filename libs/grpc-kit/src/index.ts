export * from './address';
export * from './admission';
export * from './auth';
export * from './client';
export * from './server';
export type { ServerStreamHandler, StreamContext, StreamEnd } from './server-stream';
export { ACCESS_RECHECK_MS } from './call-scope';
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
export {
  currentCallBudget,
  DEADLINE_PROPAGATION_MARGIN_MS,
  outgoingDeadlineMs,
  outsideAnyCall,
  runOnBehalfOf,
  type CallBudget,
} from './call-context';
