export * from './beneficiary-ref';
export * from './documents';
export * from './masks';
export * from './mobile';
export * from './redact';
