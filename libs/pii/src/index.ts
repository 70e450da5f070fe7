export * from './mobile';
export * from './redact';
