export * from './audit-log-verifier';
export * from './audit-witness';
export * from './demo-data';
export * from './issuer-trust';
export * from './made-up-aadhaar';
export * from './operator-client';
export * from './guided-tour';
export * from './log-entry';
