// The audit log checked from outside, trusting nothing but the log's public verifier key
// (and, when given, the witnesses' keys) and what this verifier verified itself last
// time: the signed checkpoint and the leaf hash of every entry it covered. One round:
//
//   1. the latest checkpoint's signature (and the witnesses' cosignatures asked for);
//   2. its size against the saved one: a smaller log is reported at once (SHRANK),
//      before the log is asked for any proof it might fail to give;
//   3. the consistency proof from the saved checkpoint (a failure, or a log that cannot
//      give one, is a FORK);
//   4. the entries, downloaded (only those new since the saved state and the newest it
//      holds, unless `full`; a round that finds anything wrong goes over all of them),
//      each leaf hash and the root recomputed here and compared with the signed root.
//      When they differ, the first bad entry is named: against the saved leaf hashes
//      where they reach (which no rewrite of the log's tables can fool), beyond them by
//      the log's own proofs (a binary search over consistency proofs of prefixes);
//   5. the new state, only when everything held.
//
// A log that fails a check is a verdict (`tampered`), never an exception; what stops the
// check itself (the log unreachable, no session, a damaged state) is thrown.
import { isVaxGuardError, type ErrorCode } from '@vaxguard/errors';
import {
  leafHash,
  openCheckpoint,
  parseCosignatureVerifierKey,
  parseVerifierKey,
  rootOf,
  TlogError,
  UnverifiedNoteError,
  verifyConsistency,
  verifyCosignatures,
  verifyInclusion,
  type Checkpoint,
  type NoteVerifier,
} from '@vaxguard/tlog';

/** What the verifier asks of the log: the audit service's reads, behind a port. */
export interface AuditLogSource {
  /** The latest checkpoint as a signed note (with witnesses' cosignature lines, if any). */
  signedCheckpoint(): Promise<string>;
  consistencyProof(oldSize: number, newSize: number): Promise<readonly Uint8Array[]>;
  inclusionProof(index: number, treeSize: number): Promise<readonly Uint8Array[]>;
  /** Entries [start, end) as the log serves them; an index it has no entry for is left out. */
  entries(start: number, end: number): Promise<readonly ServedEntry[]>;
}

export interface ServedEntry {
  readonly index: number;
  /** The canonical entry bytes; the leaf hash is SHA-256(0x00 ‖ entry). */
  readonly entry: Uint8Array;
}

/** What the verifier keeps between rounds. */
export interface VerifiedState {
  /** The signed checkpoint verified last, as the log served it. */
  readonly signedCheckpoint: string;
  /**
   * The leaf hash of each entry that checkpoint covers, recomputed from the entries
   * when they were verified. Absent in a state kept before they were (the next round
   * then downloads every entry).
   */
  readonly leafHashes?: readonly Uint8Array[];
}

export interface AuditLogVerification {
  readonly source: AuditLogSource;
  /** The log's verifier key, `<name>+<key id>+<base64 key>`: the trust anchor. */
  readonly verifierKey: string;
  /**
   * Witnesses whose cosignature (c2sp.org/tlog-cosignature, cosignature/v1) the
   * checkpoint must carry, by their verifier keys as litewitness prints them; none asked
   * when left out.
   */
  readonly witnessKeys?: readonly string[];
  /** What the last round verified; none on a first round. */
  readonly previous?: VerifiedState;
  /** Download and check every entry, not only those new since `previous`. */
  readonly full?: boolean;
}

/** How an entry is wrong. */
export type EntryProblem =
  /** The log serves no entry at an index its checkpoint covers. */
  | 'missing'
  /** The entry's bytes are another index's entry (entries swapped, moved or copied). */
  | 'out-of-place'
  /** The entry's bytes are no entry of the verified tree: edited, or replaced. */
  | 'changed';

/** The first entry that is not what the signed tree (or the saved state) holds. */
export interface BadEntry {
  readonly index: number;
  readonly problem: EntryProblem;
  /** For an entry out of place: where its bytes belong. */
  readonly belongsAt?: number;
  /** Whether it was named against this verifier's saved leaf hashes or the log's proofs. */
  readonly namedBy: 'saved state' | 'proofs';
}

export type TamperingKind = 'BAD_SIGNATURE' | 'SHRANK' | 'FORK' | 'BAD_ENTRY';

export interface Tampering {
  readonly kind: TamperingKind;
  /** One sentence an auditor reads, naming sizes and the entry. */
  readonly description: string;
  /** The first bad entry, when one is named. */
  readonly entry?: BadEntry;
  /** The size of the checkpoint verified before, when there was one. */
  readonly previousSize?: number;
  /** The size of the checkpoint the log serves now, when its signature held. */
  readonly size?: number;
}

export type AuditLogVerdict =
  | {
      readonly outcome: 'verified';
      readonly checkpoint: Checkpoint;
      /** The witnesses whose cosignatures were required and verified. */
      readonly cosignedBy: readonly string[];
      readonly previousSize?: number;
      /** The entries downloaded and hashed this round: [from, to). */
      readonly entriesChecked: { readonly from: number; readonly to: number };
      /** What to keep for the next round. */
      readonly state: VerifiedState;
    }
  | { readonly outcome: 'tampered'; readonly tampering: Tampering };

/**
 * The exit codes of `tools/audit/verify-log.ts` and `npx vaxguard audit verify`: a log
 * that failed a check and a check that could not be made are never the same answer, and
 * neither is 1, which npx and tsx give for their own failures.
 */
export const AUDIT_VERIFY_EXIT = {
  /** Every check held; the state moved forward. */
  verified: 0,
  /** The log could not be checked: unreachable, no credentials, refused, a damaged state. */
  couldNotCheck: 3,
  /** The log failed a check: a bad signature, a shrink, a fork or a bad entry. */
  tampered: 4,
} as const;

/**
 * How many of the newest entries verified before a round downloads again besides the new
 * ones: a log cut back, or whose newest rows were deleted, loses the newest first, even
 * while it still serves the checkpoint this verifier holds.
 */
export const RECHECKED_TAIL = 1;

/**
 * How far past the first bad entry the log is asked where its bytes belong (one
 * inclusion proof each): enough for the entries of a busy day; a swap further apart is
 * still named, as changed.
 */
export const PLACEMENT_SEARCH_LIMIT = 2_000;

/** The check could not be made; nothing is said about the log. */
export class AuditLogUnverifiableError extends Error {
  override readonly name = 'AuditLogUnverifiableError';
}

/** The log refused or failed to answer: these say nothing about it, the others do. */
const COULD_NOT_ASK: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
]);

/**
 * Whether an error from the log is its answer (a proof it cannot give: OUT_OF_RANGE,
 * INTERNAL...) rather than a failure to ask it. Anything else is rethrown.
 */
function logCannotProve(error: unknown): boolean {
  return isVaxGuardError(error) && !COULD_NOT_ASK.has(error.code);
}

const sameHash = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(b);
const base64 = (hash: Uint8Array): string => Buffer.from(hash).toString('base64');

/** One round of the outside verifier; see the file's header. */
export async function verifyAuditLog(request: AuditLogVerification): Promise<AuditLogVerdict> {
  const { source } = request;
  const verifier = trustAnchor(request.verifierKey, 'the log', parseVerifierKey);
  const witnesses = (request.witnessKeys ?? []).map((key) =>
    trustAnchor(key, 'a witness', parseCosignatureVerifierKey),
  );
  const held = request.previous ? openState(request.previous, verifier) : undefined;

  // 1. Nothing of an unsigned checkpoint is believed, its size neither.
  const note = await source.signedCheckpoint();
  let checkpoint: Checkpoint;
  try {
    checkpoint = openSigned(note, verifier, witnesses);
  } catch (error) {
    if (!(error instanceof TlogError)) throw error;
    return tampered({
      kind: 'BAD_SIGNATURE',
      description: `the checkpoint the log serves does not verify: ${error.message}`,
      ...(held ? { previousSize: held.checkpoint.size } : {}),
    });
  }
  const sizes = { size: checkpoint.size, ...(held ? { previousSize: held.checkpoint.size } : {}) };

  // 2. A shrink needs no proof, and a log that lost entries may have lost its proofs too.
  if (held && checkpoint.size < held.checkpoint.size) {
    return tampered({
      kind: 'SHRANK',
      description: `the log shrank from ${held.checkpoint.size} to ${checkpoint.size} entries: entry ${checkpoint.size} and every one after it, verified before, are gone`,
      ...sizes,
    });
  }

  // 3. The tree verified before must be a prefix of this one.
  if (held && !(await extendsHeld(source, held.checkpoint, checkpoint))) {
    const entry = held.leafHashes
      ? await againstSavedLeaves(source, held.leafHashes, checkpoint.size).catch(
          (error: unknown) => {
            if (logCannotProve(error)) return undefined;
            throw error;
          },
        )
      : undefined;
    return tampered({
      kind: 'FORK',
      description: `the log forked: its tree of ${checkpoint.size} entries (root ${base64(checkpoint.rootHash)}) does not extend the tree of ${held.checkpoint.size} entries verified before${entry ? `; ${describeBadEntry(entry)}` : ''}`,
      ...(entry ? { entry } : {}),
      ...sizes,
    });
  }

  // 4. The entries: those the saved state does not vouch for (and the newest it does,
  // again), or all of them. A round that only looked at new entries and found something
  // wrong goes over all of them, to name the first bad one against the saved leaves.
  const saved = held?.leafHashes;
  const from = saved && !request.full ? Math.max(0, saved.length - RECHECKED_TAIL) : 0;
  const served = new Map(
    (await source.entries(from, checkpoint.size))
      .filter((entry) => entry.index >= from && entry.index < checkpoint.size)
      .map((entry) => [entry.index, entry.entry]),
  );
  const leaves: (Uint8Array | undefined)[] = (saved ?? []).slice(0, from);
  for (let index = from; index < checkpoint.size; index++) {
    const entry = served.get(index);
    leaves.push(entry === undefined ? undefined : leafHash(entry));
  }
  const differs = saved ? firstDifference(leaves, saved) : undefined;
  const complete = leaves.every((leaf) => leaf !== undefined);
  if (!differs && complete && sameHash(rootOf(leaves), checkpoint.rootHash)) {
    return {
      outcome: 'verified',
      checkpoint,
      cosignedBy: witnesses.map((witness) => witness.name),
      ...(held ? { previousSize: held.checkpoint.size } : {}),
      entriesChecked: { from, to: checkpoint.size },
      state: { signedCheckpoint: note, leafHashes: leaves },
    };
  }
  if (from > 0) return verifyAuditLog({ ...request, full: true });
  if (differs) return badEntry(differs, sizes);
  return badEntry(await byProofs(source, checkpoint, saved?.length ?? 0, leaves), sizes);
}

function trustAnchor(
  key: string,
  whose: string,
  parse: (key: string) => NoteVerifier,
): NoteVerifier {
  try {
    return parse(key);
  } catch (error) {
    throw new AuditLogUnverifiableError(
      `the verifier key of ${whose} is not usable: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

interface HeldState {
  readonly checkpoint: Checkpoint;
  readonly leafHashes?: readonly Uint8Array[];
}

/**
 * The saved state, checked against itself: its note must verify with the log's key,
 * and its leaf hashes give its root (else they are not used: the round goes full).
 */
function openState(state: VerifiedState, verifier: NoteVerifier): HeldState {
  let checkpoint: Checkpoint;
  try {
    checkpoint = openCheckpoint(state.signedCheckpoint, [verifier], verifier.name).checkpoint;
  } catch (error) {
    throw new AuditLogUnverifiableError(
      `the saved checkpoint does not verify with the log's key (${error instanceof Error ? error.message : String(error)}): the state is not this log's, or damaged`,
      { cause: error },
    );
  }
  const leaves = state.leafHashes;
  const usable =
    leaves !== undefined &&
    leaves.length === checkpoint.size &&
    sameHash(rootOf(leaves), checkpoint.rootHash);
  return usable ? { checkpoint, leafHashes: leaves } : { checkpoint };
}

/** The log's signature, then the cosignature of every witness asked for. */
function openSigned(
  note: string,
  verifier: NoteVerifier,
  witnesses: readonly NoteVerifier[],
): Checkpoint {
  // Cosignature lines are unknown keys to the log's, and the log's line to the witnesses'.
  const { checkpoint } = openCheckpoint(note, [verifier], verifier.name);
  if (witnesses.length === 0) return checkpoint;
  let cosigned: readonly { name: string; keyId: number }[];
  try {
    cosigned = verifyCosignatures(note, witnesses);
  } catch (error) {
    if (!(error instanceof UnverifiedNoteError)) throw error;
    cosigned = [];
  }
  const missing = witnesses.filter(
    (witness) => !cosigned.some((by) => by.name === witness.name && by.keyId === witness.keyId),
  );
  if (missing.length > 0) {
    throw new MissingCosignatureError(
      `no valid cosignature of ${missing.map((witness) => witness.name).join(', ')}`,
    );
  }
  return checkpoint;
}

/** A witness's cosignature asked for and not there; a TlogError, so a bad signature. */
class MissingCosignatureError extends TlogError {
  override readonly name = 'MissingCosignatureError';
  readonly reason = 'AUDIT_VERIFY_COSIGNATURE_MISSING';
}

/** Whether the log proves its tree extends the one held (a log that cannot prove it: no). */
async function extendsHeld(
  source: AuditLogSource,
  held: Checkpoint,
  latest: Checkpoint,
): Promise<boolean> {
  if (held.size === 0) return true;
  if (held.size === latest.size) return sameHash(held.rootHash, latest.rootHash);
  try {
    const proof = await source.consistencyProof(held.size, latest.size);
    return verifyConsistency(held.size, latest.size, proof, held.rootHash, latest.rootHash);
  } catch (error) {
    if (logCannotProve(error)) return false;
    throw error;
  }
}

/** The entries the log serves now, against the leaf hashes verified before. */
async function againstSavedLeaves(
  source: AuditLogSource,
  saved: readonly Uint8Array[],
  size: number,
): Promise<BadEntry | undefined> {
  const end = Math.min(saved.length, size);
  const served = new Map((await source.entries(0, end)).map((e) => [e.index, e.entry]));
  const leaves = Array.from({ length: end }, (_, index) => {
    const entry = served.get(index);
    return entry === undefined ? undefined : leafHash(entry);
  });
  return firstDifference(leaves, saved);
}

/** The first of `leaves` that is not the saved leaf at its index. */
function firstDifference(
  leaves: readonly (Uint8Array | undefined)[],
  saved: readonly Uint8Array[],
): BadEntry | undefined {
  const end = Math.min(leaves.length, saved.length);
  for (let index = 0; index < end; index++) {
    const leaf = leaves[index];
    if (leaf === undefined) return { index, problem: 'missing', namedBy: 'saved state' };
    if (sameHash(leaf, saved[index] as Uint8Array)) continue;
    const belongsAt = saved.findIndex((hash) => sameHash(hash, leaf));
    return belongsAt >= 0
      ? { index, problem: 'out-of-place', belongsAt, namedBy: 'saved state' }
      : { index, problem: 'changed', namedBy: 'saved state' };
  }
  return undefined;
}

/**
 * The first entry at or past `trusted` that is not the signed tree's, by the log's
 * proofs: the longest prefix the log proves consistent with the signed root (a binary
 * search; each step one consistency proof of a prefix recomputed here) ends just before
 * it. Then where its bytes belong: an earlier entry's copy, or a later index whose
 * inclusion proof holds them.
 */
async function byProofs(
  source: AuditLogSource,
  checkpoint: Checkpoint,
  trusted: number,
  leaves: readonly (Uint8Array | undefined)[],
): Promise<BadEntry> {
  const { size, rootHash } = checkpoint;
  const missingAt = leaves.findIndex((leaf, index) => index >= trusted && leaf === undefined);
  const firstMissing = missingAt < 0 ? size : missingAt;
  const proven = async (k: number): Promise<boolean> => {
    const prefix = leaves.slice(0, k) as Uint8Array[];
    try {
      const proof = await source.consistencyProof(k, size);
      return verifyConsistency(k, size, proof, rootOf(prefix), rootHash);
    } catch (error) {
      if (logCannotProve(error)) return false;
      throw error;
    }
  };
  // Invariant: the first `good` leaves are proven; the first `bad` are not (or cannot be
  // recomputed). A prefix through a missing entry cannot be recomputed.
  let good = trusted;
  let bad = Math.min(firstMissing + 1, size);
  while (bad - good > 1) {
    const middle = Math.floor((good + bad) / 2);
    if (await proven(middle)) good = middle;
    else bad = middle;
  }
  const index = good;
  const leaf = leaves[index];
  if (leaf === undefined) return { index, problem: 'missing', namedBy: 'proofs' };
  const copyOf = leaves.findIndex((other, at) => at < index && other && sameHash(other, leaf));
  if (copyOf >= 0) return { index, problem: 'out-of-place', belongsAt: copyOf, namedBy: 'proofs' };
  const limit = Math.min(size, index + 1 + PLACEMENT_SEARCH_LIMIT);
  for (let at = index + 1; at < limit; at++) {
    let proof: readonly Uint8Array[];
    try {
      proof = await source.inclusionProof(at, size);
    } catch (error) {
      if (logCannotProve(error)) break;
      throw error;
    }
    if (verifyInclusion(leaf, at, size, proof, rootHash)) {
      return { index, problem: 'out-of-place', belongsAt: at, namedBy: 'proofs' };
    }
  }
  return { index, problem: 'changed', namedBy: 'proofs' };
}

function badEntry(
  entry: BadEntry,
  sizes: { readonly size: number; readonly previousSize?: number },
): AuditLogVerdict {
  return tampered({
    kind: 'BAD_ENTRY',
    description: `the entries do not give the signed root of ${sizes.size} entries: ${describeBadEntry(entry)}`,
    entry,
    ...sizes,
  });
}

function tampered(tampering: Tampering): AuditLogVerdict {
  return { outcome: 'tampered', tampering };
}

/** An entry's problem in words: "entry 12 was changed (...)". */
export function describeBadEntry(entry: BadEntry): string {
  const against =
    entry.namedBy === 'saved state' ? 'what this verifier verified before' : 'the signed tree';
  switch (entry.problem) {
    case 'missing':
      return `entry ${entry.index} is missing (the log serves no entry there)`;
    case 'out-of-place':
      return `entry ${entry.index} is out of place (its bytes are entry ${entry.belongsAt} of ${against}: entries swapped or moved)`;
    case 'changed':
      return `entry ${entry.index} was changed (its bytes are no entry of ${against})`;
  }
}

/** The exit code a verdict gives (AUDIT_VERIFY_EXIT). */
export function exitCodeOf(verdict: AuditLogVerdict): number {
  return verdict.outcome === 'verified' ? AUDIT_VERIFY_EXIT.verified : AUDIT_VERIFY_EXIT.tampered;
}

/** A verdict in lines an auditor reads. */
export function describeVerdict(verdict: AuditLogVerdict, stateFile?: string): string[] {
  if (verdict.outcome === 'tampered') {
    return [`TAMPERED (${verdict.tampering.kind}): ${verdict.tampering.description}`];
  }
  const { checkpoint, cosignedBy, previousSize, entriesChecked } = verdict;
  const checked = entriesChecked.to - entriesChecked.from;
  return [
    `checkpoint of ${checkpoint.origin}: ${checkpoint.size} entries, root ${base64(checkpoint.rootHash)}, signature valid${cosignedBy.length > 0 ? `, cosigned by ${cosignedBy.join(', ')}` : ''}`,
    previousSize !== undefined
      ? `consistent with the checkpoint verified before (${previousSize} entries): nothing rewritten or removed`
      : `first checkpoint seen${stateFile ? `: kept in ${stateFile} to check the next one against` : ''}`,
    entriesChecked.from === 0
      ? `all ${checked} entries downloaded and hashed here: they give the signed root`
      : `entries ${entriesChecked.from} to ${entriesChecked.to - 1} downloaded and hashed here (the newest verified before, again, and ${entriesChecked.to - (previousSize ?? entriesChecked.to)} new): with those verified before they give the signed root`,
  ];
}
