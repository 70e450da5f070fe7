export * from './pool';
export * from './migrate';
export * from './statements';
export {
  CALL_STATEMENT_TIMEOUT_CEILING_MS,
  statementTimeoutMs,
  type CallBudget,
} from './call-budget';
export * from './batched-delete';
