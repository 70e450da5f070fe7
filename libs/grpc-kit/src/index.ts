export * from './auth';
export * from './client';
export * from './server';
export * from './status';
export * from './service-client';
