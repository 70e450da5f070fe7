export * from './config';
export * from './runtime';
export * from './main';
export * from './periodic';
export * from './loopback-http';
