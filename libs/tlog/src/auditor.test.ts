import { describe, expect, it } from 'vitest';
import { auditCheckpoint } from './auditor';
import { signCheckpoint } from './checkpoint';
import {
  CheckpointOriginError,
  InvalidSignatureError,
  MalformedNoteError,
  ProofVerificationError,
  UnverifiedNoteError,
} from './errors';
import { readConsistencyProof, readInclusionProof } from './node-reader';
import { generateSignerKey, parseSignerKey } from './note-keys';
import { distinctLeaves, MemoryNodeStore } from './testdata/reference-tree';

const ORIGIN = 'audit.vaxguard.example/log';

/** A log of 21 then 37 entries, as the audit service would keep it. */
async function publishedLog() {
  const keys = generateSignerKey(ORIGIN);
  const signer = parseSignerKey(keys.signerKey);
  const store = new MemoryNodeStore();
  const leaves = distinctLeaves(37, 'audit');
  const oldRoot = store.append(leaves.slice(0, 21));
  const newRoot = store.append(leaves.slice(21));
  return {
    verifierKey: keys.verifierKey,
    leaves,
    store,
    previous: { size: 21, rootHash: oldRoot },
    signedCheckpoint: signCheckpoint({ origin: ORIGIN, size: 37, rootHash: newRoot }, [signer]),
  };
}

describe('auditCheckpoint', () => {
  it('verifies a signed checkpoint and proofs read from storage with only the public key', async () => {
    const log = await publishedLog();
    const checkpoint = auditCheckpoint({
      verifierKey: log.verifierKey,
      signedCheckpoint: log.signedCheckpoint,
      inclusion: {
        leafHash: log.leaves[30]!,
        index: 30,
        proof: await readInclusionProof(log.store, 30, 37),
      },
      consistency: {
        previous: log.previous,
        proof: await readConsistencyProof(log.store, 21, 37),
      },
    });
    expect(checkpoint.size).toBe(37);
    expect(checkpoint.origin).toBe(ORIGIN);
  });

  it('refuses an entry that is not at the claimed index', async () => {
    const log = await publishedLog();
    const proof = await readInclusionProof(log.store, 30, 37);
    expect(() =>
      auditCheckpoint({
        verifierKey: log.verifierKey,
        signedCheckpoint: log.signedCheckpoint,
        inclusion: { leafHash: log.leaves[29]!, index: 30, proof },
      }),
    ).toThrow(ProofVerificationError);
  });

  it('refuses a history rewritten since the previous checkpoint', async () => {
    const log = await publishedLog();
    const proof = await readConsistencyProof(log.store, 21, 37);
    const rewritten = { size: 21, rootHash: distinctLeaves(1, 'rewritten')[0]! };
    expect(() =>
      auditCheckpoint({
        verifierKey: log.verifierKey,
        signedCheckpoint: log.signedCheckpoint,
        consistency: { previous: rewritten, proof },
      }),
    ).toThrow(ProofVerificationError);
  });

  it('refuses a tampered, unsigned, foreign or garbled checkpoint', async () => {
    const log = await publishedLog();
    const audit =
      (signedCheckpoint: string, verifierKey = log.verifierKey, origin?: string) =>
      () =>
        auditCheckpoint({ verifierKey, signedCheckpoint, ...(origin ? { origin } : {}) });
    expect(audit(log.signedCheckpoint.replace('\n37\n', '\n38\n'))).toThrow(InvalidSignatureError);
    expect(audit(log.signedCheckpoint, generateSignerKey(ORIGIN).verifierKey)).toThrow(
      UnverifiedNoteError,
    );
    expect(audit(log.signedCheckpoint, log.verifierKey, 'other.example/log')).toThrow(
      CheckpointOriginError,
    );
    expect(audit(log.signedCheckpoint.replace('\n\n', '\n'))).toThrow(MalformedNoteError);
  });
});
