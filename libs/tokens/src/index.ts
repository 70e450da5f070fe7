// The token contract, pure: claims, audiences, scopes, purposes, verification against
// published key sets, and the revocation set. Fetching keys over gRPC and reading
// revocations from Kafka live in @vaxguard/auth, so a domain that needs an audience
// constant loads no transport code.
export * from './claims';
export * from './jwks';
export * from './revocations';
export * from './verifier';
export * from './api-locks';
