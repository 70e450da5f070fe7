export * from './envelope';
export * from './kafka';
export * from './migrations';
export * from './outbox';
export * from './consumer';
