// The part of @vaxguard/tlog that runs anywhere (no node:crypto, no Buffer): checkpoint
// and signed-note parsing, the shape of RFC 9162's proof checks, and the checks
// themselves with WebCrypto. A browser bundles this entry point, never index.ts.
export * from './errors';
export { HASH_SIZE, consistencyPlan, inclusionSteps } from './proof-paths';
export { decodeBase64Strict, encodeBase64 } from './encoding';
export { parseCheckpoint, type Checkpoint } from './checkpoint-text';
export { parseNote, parseVerifierKeyParts, type ParsedNote } from './note-text';
export * from './web-verifier';
