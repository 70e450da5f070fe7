export * from './spans';
export * from './traceparent';
export * from './tracing';
