// The transport side of authentication: the per-method authenticator every service
// mounts, token keys fetched over gRPC, revocations heard from Kafka. The pure token
// contract stays in @vaxguard/tokens.
export * from './authenticator';
export * from './token-sources';
export * from './access-registry';
export * from './staff-session';
