export * from './broadcast';
export * from './consumer';
export * from './kafka';
export * from './migrations';
export * from './outbox';
export * from './retention-rules';
