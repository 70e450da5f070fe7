// An RFC 6962 transparency log, pure (node:crypto only): hashing, storage-friendly tree
// building and proofs, verification, and C2SP checkpoints in signed notes.
// A browser bundles portable.ts (@vaxguard/tlog-portable) instead: the same parsing and
// proof checks on WebCrypto, with no node-only API.
export * from './errors';
export { HASH_SIZE, emptyRoot, leafHash, nodeHash, rootOf } from './hashing';
export { frontierNodes, nodeCoverage, rangeNodes, type NodeId } from './tree-nodes';
export * from './appender';
export * from './proof-nodes';
export * from './node-reader';
export * from './tiles';
export * from './verify';
export {
  COSIGNATURE_V1,
  ed25519KeyId,
  formatVerifierKey,
  generateSignerKey,
  isValidKeyName,
  parseSignerKey,
  parseVerifierKey,
  type NoteSigner,
  type NoteVerifier,
} from './note-keys';
export * from './signed-note';
export * from './checkpoint';
export * from './cosignature';
export * from './auditor';
