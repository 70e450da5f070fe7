export * from './claims';
export * from './jwks';
export * from './revocations';
export * from './sources';
export * from './verifier';
