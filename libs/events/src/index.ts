export * from './broadcast';
export * from './consumer';
export * from './kafka';
export * from './migrations';
export * from './outbox';
export * from './retention-rules';
export * from './consumer-lag';
export * from './outbox-metrics';
