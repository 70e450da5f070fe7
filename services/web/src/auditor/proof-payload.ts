// What the console's JSON endpoints send the browser's proof checks (browser/proof-check.ts),
// and where the browser keeps what the auditor pinned and saved. Hashes and entries in
// base64; nothing here is trusted until the browser has checked it.

/** GET /audit/entries/:index/proof: an entry, its inclusion proof and the checkpoint. */
export interface InclusionPayload {
  readonly index: number;
  /** The entry's canonical bytes. */
  readonly entry: string;
  /** Leaf first, as RFC 6962 PATH lists them. */
  readonly proof: readonly string[];
  /** The signed checkpoint the proof leads to. */
  readonly signedCheckpoint: string;
  /** The verifier key the log publishes; a key the auditor pinned comes first. */
  readonly verifierKey: string;
}

/** GET /audit/consistency/proof?from=<size>: the current checkpoint and the proof to it. */
export interface ConsistencyPayload {
  /** The size the proof starts from (0: none was asked, the checkpoint alone). */
  readonly fromSize: number;
  readonly proof: readonly string[];
  readonly signedCheckpoint: string;
  readonly verifierKey: string;
}

/** The entry is newer than the latest signed checkpoint: nothing to prove it against yet. */
export interface PendingPayload {
  readonly pending: true;
}

/** localStorage: the log's verifier key, pinned when the auditor first saved a checkpoint. */
export const PINNED_KEY_STORAGE = 'vaxguard.audit.verifierKey';
/** localStorage: the signed checkpoint the auditor saved, to check the log against later. */
export const SAVED_CHECKPOINT_STORAGE = 'vaxguard.audit.savedCheckpoint';
