import { type Checkpoint, parseCheckpoint } from './checkpoint-text';
import { bytesEqual, hex8 } from './encoding';
import { TlogError } from './errors';
import {
  ED25519,
  ED25519_SIGNATURE_SIZE,
  keyIdPreimage,
  parseNote,
  parseVerifierKeyParts,
} from './note-text';
import { assertHash, consistencyPlan, inclusionSteps, isHash } from './proof-paths';

// The log's checks with WebCrypto (SHA-256 and Ed25519 through crypto.subtle), for a
// browser: the same RFC 9162 loops as verify.ts (proof-paths.ts), the same note and
// checkpoint parsing as signed-note.ts and checkpoint.ts. Node's WebCrypto is the same
// API, which is how the unit tests run it against proofs the node code built.

/** What these checks need of WebCrypto's SubtleCrypto (a browser's, or node's). */
export interface SubtleCryptoLike {
  digest(algorithm: 'SHA-256', data: Uint8Array): Promise<ArrayBuffer>;
  importKey(
    format: 'raw',
    keyData: Uint8Array,
    algorithm: { name: 'Ed25519' },
    extractable: false,
    keyUsages: ['verify'],
  ): Promise<unknown>;
  verify(
    algorithm: { name: 'Ed25519' },
    key: never,
    signature: Uint8Array,
    data: Uint8Array,
  ): Promise<boolean>;
}

/** Why a check did not hold; each is shown to the auditor with its detail. */
export type ProofCheckFailure =
  /** The verifier key is not an Ed25519 note key, or its key ID does not match it. */
  | 'VERIFIER_KEY'
  /** The checkpoint is not a signed note holding a C2SP checkpoint. */
  | 'CHECKPOINT_FORMAT'
  /** The log's key signed it, and the signature does not verify: it was altered. */
  | 'CHECKPOINT_SIGNATURE'
  /** No signature by the log's key. */
  | 'CHECKPOINT_UNSIGNED'
  /** Signed by the log's key, for another log. */
  | 'CHECKPOINT_ORIGIN'
  /** The entry's bytes do not hash to the leaf hash given with them. */
  | 'LEAF_HASH'
  /** The inclusion proof does not lead from the leaf to the checkpoint's root. */
  | 'INCLUSION'
  /** The consistency proof does not show the earlier tree a prefix of the current one. */
  | 'CONSISTENCY'
  /** The current checkpoint is smaller than one the log signed before. */
  | 'ROLLBACK'
  /** Two signed checkpoints of one size with different roots. */
  | 'FORK';

export type ProofCheckResult =
  | { readonly verified: true; readonly checkpoint: Checkpoint }
  | { readonly verified: false; readonly failure: ProofCheckFailure; readonly detail: string };

/** A failed check, carried up to the function that turns it into a result. */
export class ProofCheckError extends Error {
  constructor(
    readonly failure: ProofCheckFailure,
    detail: string,
  ) {
    super(detail);
  }
}

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

/** A log's checks with one verifier key: the only trust anchor an auditor holds. */
export class WebLogVerifier {
  private constructor(
    private readonly subtle: SubtleCryptoLike,
    /** The log's name: the key's name, which its checkpoints must carry as origin. */
    readonly origin: string,
    readonly keyId: number,
    private readonly key: unknown,
  ) {}

  /** Reads the verifier key, checks its key ID against the key, and imports the key. */
  static async create(verifierKey: string, subtle: SubtleCryptoLike): Promise<WebLogVerifier> {
    let parts;
    try {
      parts = parseVerifierKeyParts(verifierKey, ED25519);
    } catch (error) {
      throw new ProofCheckError('VERIFIER_KEY', messageOf(error));
    }
    const digest = await sha256(subtle, keyIdPreimage(parts.name, ED25519, parts.publicKey));
    if (new DataView(digest.buffer).getUint32(0) !== parts.keyId) {
      throw new ProofCheckError(
        'VERIFIER_KEY',
        `the key ID of ${parts.name} does not match its key`,
      );
    }
    let key: unknown;
    try {
      key = await subtle.importKey('raw', parts.publicKey, { name: 'Ed25519' }, false, ['verify']);
    } catch (error) {
      throw new ProofCheckError('VERIFIER_KEY', `the key cannot be used: ${messageOf(error)}`);
    }
    return new WebLogVerifier(subtle, parts.name, parts.keyId, key);
  }

  /** `<name>+<key ID>`: how the page names the key it trusted. */
  get keyName(): string {
    return `${this.origin}+${hex8(this.keyId)}`;
  }

  /** Verifies the log's signature on a checkpoint and reads it. */
  async openCheckpoint(signedCheckpoint: string): Promise<Checkpoint> {
    let note;
    let checkpoint;
    try {
      note = parseNote(signedCheckpoint);
      checkpoint = parseCheckpoint(note.text);
    } catch (error) {
      throw new ProofCheckError('CHECKPOINT_FORMAT', messageOf(error));
    }
    const ours = note.signatures.find(
      (line) => line.name === this.origin && line.keyId === this.keyId,
    );
    if (ours === undefined) {
      throw new ProofCheckError('CHECKPOINT_UNSIGNED', `no signature by ${this.keyName}`);
    }
    const signed =
      ours.signature.length === ED25519_SIGNATURE_SIZE &&
      (await this.subtle.verify(
        { name: 'Ed25519' },
        this.key as never,
        ours.signature,
        new TextEncoder().encode(note.text),
      ));
    if (!signed) {
      throw new ProofCheckError(
        'CHECKPOINT_SIGNATURE',
        `the signature of ${this.keyName} does not verify`,
      );
    }
    if (checkpoint.origin !== this.origin) {
      throw new ProofCheckError(
        'CHECKPOINT_ORIGIN',
        `checkpoint is from ${JSON.stringify(checkpoint.origin)}, expected ${JSON.stringify(this.origin)}`,
      );
    }
    return checkpoint;
  }

  /** SHA-256(0x00 ‖ entry): the hash of one log entry (RFC 6962 §2.1). */
  leafHash(entry: Uint8Array): Promise<Uint8Array> {
    return sha256(this.subtle, Uint8Array.of(LEAF_PREFIX), entry);
  }

  private nodeHash(left: Uint8Array, right: Uint8Array): Promise<Uint8Array> {
    return sha256(this.subtle, Uint8Array.of(NODE_PREFIX), left, right);
  }

  /** verify.ts's verifyInclusion, with WebCrypto's SHA-256. */
  async verifyInclusion(
    leafHash: Uint8Array,
    index: number,
    size: number,
    proof: readonly Uint8Array[],
    root: Uint8Array,
  ): Promise<boolean> {
    const steps = inclusionSteps(index, size, proof.length);
    assertHash(leafHash, 'leaf hash');
    assertHash(root, 'root hash');
    if (steps === undefined || !proof.every(isHash)) return false;
    let r = leafHash;
    for (const [i, step] of steps.entries()) {
      const p = proof[i] as Uint8Array;
      r = step === 'proof-left' ? await this.nodeHash(p, r) : await this.nodeHash(r, p);
    }
    return bytesEqual(r, root);
  }

  /** verify.ts's verifyConsistency, with WebCrypto's SHA-256. */
  async verifyConsistency(
    oldSize: number,
    newSize: number,
    proof: readonly Uint8Array[],
    oldRoot: Uint8Array,
    newRoot: Uint8Array,
  ): Promise<boolean> {
    const plan = consistencyPlan(oldSize, newSize, proof.length);
    assertHash(oldRoot, 'old root hash');
    assertHash(newRoot, 'new root hash');
    if (!proof.every(isHash)) return false;
    if (oldSize !== 0 && oldSize === newSize) {
      return proof.length === 0 && bytesEqual(oldRoot, newRoot);
    }
    if (plan === undefined) return false;
    const path = plan.startsWithOldRoot ? [oldRoot, ...proof] : [...proof];
    let fr = path[0] as Uint8Array;
    let sr = fr;
    for (const [i, step] of plan.steps.entries()) {
      const c = path[i + 1] as Uint8Array;
      if (step === 'both') {
        fr = await this.nodeHash(c, fr);
        sr = await this.nodeHash(c, sr);
      } else {
        sr = await this.nodeHash(sr, c);
      }
    }
    return bytesEqual(fr, oldRoot) && bytesEqual(sr, newRoot);
  }
}

export interface InclusionCheck {
  /** The log's verifier key, `<name>+<key ID>+<base64 key>`. */
  readonly verifierKey: string;
  /** The checkpoint to check against, as the signed note the log serves. */
  readonly signedCheckpoint: string;
  readonly index: number;
  /** The entry's canonical bytes; its leaf hash is computed here. */
  readonly entry: Uint8Array;
  /** Leaf first, as RFC 6962 PATH lists them. */
  readonly proof: readonly Uint8Array[];
}

/**
 * That the entry is at its index in the tree of the checkpoint, and that the log's key
 * signed that checkpoint. Never throws: what does not hold comes back as a failure.
 */
export async function checkInclusion(
  check: InclusionCheck,
  subtle: SubtleCryptoLike,
): Promise<ProofCheckResult> {
  return resultOf(async () => {
    const verifier = await WebLogVerifier.create(check.verifierKey, subtle);
    const checkpoint = await verifier.openCheckpoint(check.signedCheckpoint);
    const leafHash = await verifier.leafHash(check.entry);
    const included = await verifier.verifyInclusion(
      leafHash,
      check.index,
      checkpoint.size,
      check.proof,
      checkpoint.rootHash,
    );
    if (!included) {
      throw new ProofCheckError(
        'INCLUSION',
        `entry ${check.index} is not proven in the tree of size ${checkpoint.size}`,
      );
    }
    return checkpoint;
  }, 'INCLUSION');
}

export interface ConsistencyCheck {
  readonly verifierKey: string;
  /** A checkpoint the auditor kept from earlier, as the signed note. */
  readonly previousCheckpoint: string;
  /** The log's current checkpoint, as the signed note. */
  readonly signedCheckpoint: string;
  /** The proof from the previous checkpoint's size to the current one's. */
  readonly proof: readonly Uint8Array[];
}

/**
 * That the log's key signed both checkpoints and the earlier tree is a prefix of the
 * current one: a smaller current tree is a rollback, a different root at the same size
 * or a proof that does not hold is a fork. Never throws.
 */
export async function checkConsistency(
  check: ConsistencyCheck,
  subtle: SubtleCryptoLike,
): Promise<ProofCheckResult> {
  return resultOf(async () => {
    const verifier = await WebLogVerifier.create(check.verifierKey, subtle);
    const previous = await verifier.openCheckpoint(check.previousCheckpoint);
    const current = await verifier.openCheckpoint(check.signedCheckpoint);
    if (current.size < previous.size) {
      throw new ProofCheckError(
        'ROLLBACK',
        `the log now signs a tree of ${current.size} entries after signing one of ${previous.size}`,
      );
    }
    if (current.size === previous.size) {
      if (bytesEqual(current.rootHash, previous.rootHash)) return current;
      throw new ProofCheckError(
        'FORK',
        `the log signed two different trees of ${current.size} entries`,
      );
    }
    const consistent =
      previous.size > 0 &&
      (await verifier.verifyConsistency(
        previous.size,
        current.size,
        check.proof,
        previous.rootHash,
        current.rootHash,
      ));
    if (!consistent && previous.size > 0) {
      throw new ProofCheckError(
        'CONSISTENCY',
        `the tree of ${previous.size} entries is not proven a prefix of the tree of ${current.size}`,
      );
    }
    return current;
  }, 'CONSISTENCY');
}

async function resultOf(
  check: () => Promise<Checkpoint>,
  proofFailure: 'INCLUSION' | 'CONSISTENCY',
): Promise<ProofCheckResult> {
  try {
    return { verified: true, checkpoint: await check() };
  } catch (error) {
    if (error instanceof ProofCheckError) {
      return { verified: false, failure: error.failure, detail: error.message };
    }
    // A proof whose sizes name no tree position (TreeRangeError, HashLengthError).
    if (error instanceof TlogError) {
      return { verified: false, failure: proofFailure, detail: error.message };
    }
    throw error;
  }
}

async function sha256(subtle: SubtleCryptoLike, ...parts: Uint8Array[]): Promise<Uint8Array> {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const data = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    data.set(part, offset);
    offset += part.length;
  }
  return new Uint8Array(await subtle.digest('SHA-256', data));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
