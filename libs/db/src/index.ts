export * from './pool';
export {
  parseDatabaseUrl,
  HOST_CONNECT_TIMEOUT_MS,
  connectSession,
  type DatabaseHost,
  type DatabaseTarget,
} from './primary-hosts';
export * from './migrate';
export * from './statements';
export {
  CALL_STATEMENT_TIMEOUT_CEILING_MS,
  statementTimeoutMs,
  type CallBudget,
} from './call-budget';
export * from './batched-delete';
