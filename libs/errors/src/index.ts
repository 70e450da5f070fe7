export * from './errors';
export * from './connection-lost';
