import {
  emptyRoot,
  openCheckpoint,
  readConsistencyProof,
  verifyConsistency,
  verifyCosignatures,
  type NodeHashReader,
  type NoteVerifier,
} from '@vaxguard/tlog';
import type { Alert } from './anomaly-model';
import { RULE_SEVERITY } from './anomaly-rules';
import { sameHash } from './log-rules';
import type { Clock, LogHead, StoredCheckpoint } from './model';

/**
 * What the log keeps outside its database, so that someone who can write to the
 * database cannot make it sign (or publish) a tree that does not extend what it signed
 * before: the last checkpoint it signed, the last one its witnesses cosigned, and
 * whether it has halted. The database holds the tree; this holds the log's word.
 */

/** A witness the log submits its checkpoints to (c2sp.org/tlog-witness). */
export interface WitnessConfig {
  /** How the log names it in its logs, alerts and state. */
  readonly name: string;
  /** Where its add-checkpoint endpoint is (the url the endpoint path is under). */
  readonly url: string;
  /** Its cosignature verifier key, `<name>+<key id>+<base64 key>`. */
  readonly verifierKey: string;
}

/** A checkpoint as kept outside the database. */
export interface KeptCheckpoint {
  readonly size: number;
  readonly rootHash: Uint8Array;
  /**
   * The signed note: the log's signature, and for a cosigned one the witnesses'
   * cosignature lines after it. Empty for a tree an operator accepted after a halt.
   */
  readonly signedNote: string;
  /** When it was kept (for a cosigned one: when the last witness cosigned it). */
  readonly at: Date;
}

/** Why the log stopped publishing checkpoints. */
export type HaltCause =
  /** The stored tree is smaller than the kept checkpoint. */
  | 'SHRUNK'
  /** The stored tree is not an extension of the kept checkpoint (a fork, a recomputed head). */
  | 'FORKED'
  /** A witness refused the log's checkpoint as inconsistent with one it cosigned (HTTP 422). */
  | 'WITNESS_REFUSED'
  /** A witness holds a cosigned checkpoint of this log larger than the one kept here. */
  | 'WITNESS_AHEAD';

export interface Halt {
  readonly cause: HaltCause;
  readonly description: string;
  /** The kept checkpoint's size, and the stored tree's, when it halted. */
  readonly keptSize: number;
  readonly treeSize: number;
  readonly at: Date;
}

export interface KeptState {
  /** The newest checkpoint the log signed and kept: what it checks every new tree against. */
  readonly signed: KeptCheckpoint | undefined;
  /** The newest checkpoint every witness cosigned. */
  readonly cosigned: KeptCheckpoint | undefined;
  /** Each witness's latest cosigned size of this log, as far as the log knows. */
  readonly witnessSizes: Readonly<Record<string, number>>;
  /** Since when a kept checkpoint has waited for cosigning; absent when none waits. */
  readonly pendingSince: Date | undefined;
  readonly halt: Halt | undefined;
}

export const EMPTY_KEPT_STATE: KeptState = {
  signed: undefined,
  cosigned: undefined,
  witnessSizes: {},
  pendingSince: undefined,
  halt: undefined,
};

/** Where the state is kept: a file written atomically, outside the database. */
export interface KeptStateStore {
  load(): Promise<KeptState | undefined>;
  /** Durable when it resolves (written to a temporary file, synced, renamed). */
  save(state: KeptState): Promise<void>;
}

/**
 * Turns between the instances of the audit service (issue 19: it runs as several). The
 * tree itself needs none: each append and checkpoint holds the stored head's row lock.
 * What lives outside the database does: the kept state (one file every instance reads,
 * AUDIT_STATE_DIR) and the witnesses' view of the log, which two instances submitting at
 * once would fork in the witnesses' eyes (one's older checkpoint after the other's newer
 * one reads as a rollback: WITNESS_AHEAD). The adapter is a PostgreSQL advisory lock
 * (pg-instance-lock.ts) rather than a lease: the database that holds the tree arbitrates,
 * a holder that dies loses it with its connection at once, and there is no expiry to
 * tune against pauses or clocks.
 */
export interface InstanceLock {
  /** Waits for the lock, runs `work`, releases it. */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Runs `work` only if no other instance holds the lock now; false when it did not run. */
  tryRun(work: () => Promise<void>): Promise<boolean>;
}

/** Raises the log's own alerts (through the alert desk's store) and says so in the log. */
export interface LogAlarm {
  raise(alert: Alert, detail: string): Promise<void>;
}

/** The parts of an alert about the log itself that the keeper decides. */
export interface LogAlertFacts {
  readonly rule: 'LOG_ROLLBACK' | 'LOG_TAMPERED' | 'CHECKPOINT_NOT_COSIGNED';
  /** Such as `checkpoint`, `witness` or `5m`. */
  readonly window: string;
  readonly since: Date;
  readonly observed: number;
  readonly threshold: number;
  /** What makes this occurrence one alert, however often it is seen. */
  readonly key: string;
}

/** An alert about the log itself: the audit service (named by the log's origin) as principal. */
export function logAlert(
  facts: LogAlertFacts,
  context: { readonly origin: string; readonly actor: string; readonly now: Date },
): Alert {
  return {
    rule: facts.rule,
    severity: RULE_SEVERITY[facts.rule],
    principal: { kind: 'SERVICE', id: context.origin },
    window: {
      name: facts.window,
      startsAt: facts.since,
      endsAt: context.now,
      observed: facts.observed,
      threshold: facts.threshold,
    },
    response: 'NONE',
    raisedAt: context.now,
    raisedBy: { kind: 'SERVICE', principalId: context.actor, clientId: context.actor },
    dedupKey: `${facts.rule}:${context.origin}:${facts.key}`,
  };
}

/**
 * Whether the tree `head` extends the checkpoint `kept`, with the consistency proof
 * read from the stored nodes: undefined when it does, else why not. A proof that
 * cannot be read (nodes deleted) proves nothing.
 */
export async function extensionProblem(
  nodes: NodeHashReader,
  kept: { readonly size: number; readonly rootHash: Uint8Array },
  head: LogHead,
): Promise<{ cause: 'SHRUNK' | 'FORKED'; description: string } | undefined> {
  if (head.size < kept.size) {
    return {
      cause: 'SHRUNK',
      description: `the stored tree has ${head.size} entries, fewer than the ${kept.size} of the last checkpoint the log signed`,
    };
  }
  const forked = {
    cause: 'FORKED' as const,
    description: `the stored tree of ${head.size} entries does not extend the last checkpoint the log signed, of ${kept.size}`,
  };
  if (kept.size === 0) return sameHash(kept.rootHash, emptyRoot()) ? undefined : forked;
  if (head.size === kept.size) return sameHash(head.rootHash, kept.rootHash) ? undefined : forked;
  let proof: Uint8Array[];
  try {
    proof = await readConsistencyProof(nodes, kept.size, head.size);
  } catch {
    return forked;
  }
  return verifyConsistency(kept.size, head.size, proof, kept.rootHash, head.rootHash)
    ? undefined
    : forked;
}

export interface LogKeeperOptions {
  readonly store: KeptStateStore;
  readonly alarm: LogAlarm;
  readonly origin: string;
  /** The log's own key: a checkpoint read from the database is kept only if it verifies. */
  readonly verifier: NoteVerifier;
  /** Who raises the log's alerts (the audit service's client id). */
  readonly actor: string;
  /**
   * What the log publishes as current: the checkpoint its witnesses cosigned, or (with
   * no witness configured, AUDIT_WITNESSES=none) the one it signed itself.
   */
  readonly publishes: 'COSIGNED' | 'SIGNED';
  readonly clock: Clock;
  /**
   * When several instances share the kept state: each change reads the state the others
   * left (`store.load`) and saves under this lock, so none is lost. Absent: this
   * instance is the only writer, and its memory is the state.
   */
  readonly stateLock?: InstanceLock;
}

/**
 * Holds the kept state in memory, saves every change before it takes effect, and
 * decides whether a tree may be signed. A halt is kept too: a restart does not clear
 * it, only an operator does (`AUDIT_ACCEPT_ROLLBACK`, see `acceptTree`).
 */
export class LogKeeper {
  // A stored head (read at a lock, so committed) proved to extend the kept checkpoint:
  // the next proof starts from it, which is the same check (consistency is transitive).
  private proved: LogHead | undefined;
  // The stall (by its start) already alerted on by this process.
  private stallAlerted: Date | undefined;

  private constructor(
    private readonly options: LogKeeperOptions,
    private current: KeptState,
  ) {}

  static async open(options: LogKeeperOptions): Promise<LogKeeper> {
    return new LogKeeper(options, (await options.store.load()) ?? EMPTY_KEPT_STATE);
  }

  get state(): KeptState {
    return this.current;
  }

  get halt(): Halt | undefined {
    return this.current.halt;
  }

  /**
   * Takes the kept state as another instance left it (a no-op for a lone instance):
   * before a publication round, and on instances that follow the one publishing.
   */
  refresh(): Promise<void> {
    if (!this.options.stateLock) return Promise.resolve();
    const run = this.saving.then(async () => {
      this.current = (await this.options.store.load()) ?? this.current;
    });
    this.saving = run.catch(() => undefined);
    return run;
  }

  /** The checkpoint published as current; none before the first is kept (or cosigned). */
  published(): StoredCheckpoint | undefined {
    const { signed, cosigned } = this.current;
    const checkpoint = this.options.publishes === 'COSIGNED' ? cosigned : signed;
    if (!checkpoint?.signedNote) return undefined;
    return {
      size: checkpoint.size,
      rootHash: checkpoint.rootHash,
      signedNote: checkpoint.signedNote,
      createdAt: checkpoint.at,
    };
  }

  /**
   * Whether the log may sign the stored tree `head` (read under the head's lock): it
   * must extend the kept checkpoint. When it does not, the log halts and raises a
   * CRITICAL LOG_ROLLBACK alert; entries are still appended, nothing more is signed.
   */
  async maySign(nodes: NodeHashReader, head: LogHead): Promise<boolean> {
    if (this.current.halt) return false;
    const kept = this.current.signed;
    if (!kept) return true;
    const proved = this.proved;
    if (proved && proved.size === head.size && sameHash(proved.rootHash, head.rootHash)) {
      return true;
    }
    if (
      proved &&
      proved.size >= kept.size &&
      head.size >= proved.size &&
      !(await extensionProblem(nodes, proved, head))
    ) {
      this.proved = head;
      return true;
    }
    const problem = await extensionProblem(nodes, kept, head);
    if (!problem) {
      this.proved = head;
      return true;
    }
    await this.haltWith(problem.cause, problem.description, head.size);
    return false;
  }

  /**
   * Keeps the newest checkpoint signed in the database, once it is shown to be the
   * log's own (its signature verifies and matches its row) and to extend the kept one.
   * Only a kept checkpoint is ever published or sent to a witness.
   */
  async keep(nodes: NodeHashReader, checkpoint: StoredCheckpoint): Promise<boolean> {
    const kept = this.current.signed;
    if (this.current.halt || (kept && checkpoint.size <= kept.size)) return false;
    if (!this.isOwn(checkpoint)) return false;
    const problem = kept && (await extensionProblem(nodes, kept, checkpoint));
    if (problem) {
      await this.haltWith(problem.cause, problem.description, checkpoint.size);
      return false;
    }
    const now = this.options.clock();
    return this.update((state) =>
      state.halt || (state.signed && checkpoint.size <= state.signed.size)
        ? undefined
        : { signed: { ...checkpoint, at: now }, pendingSince: state.pendingSince ?? now },
    );
  }

  /** Records a checkpoint every witness cosigned (the note with their lines). */
  async cosigned(checkpoint: KeptCheckpoint, witnessSizes: Record<string, number>): Promise<void> {
    await this.update((state) => ({
      cosigned: checkpoint,
      witnessSizes: { ...state.witnessSizes, ...witnessSizes },
      pendingSince: checkpoint.size >= (state.signed?.size ?? 0) ? undefined : checkpoint.at,
    }));
  }

  /** Remembers what witnesses said they hold (a 409's size), for the next proof. */
  async witnessesHold(witnessSizes: Record<string, number>): Promise<void> {
    await this.update((state) => ({
      witnessSizes: { ...state.witnessSizes, ...witnessSizes },
    }));
  }

  /** Stops publication: kept, a CRITICAL LOG_ROLLBACK alert raised (once per halt). */
  async haltWith(cause: HaltCause, description: string, treeSize: number): Promise<void> {
    const now = this.options.clock();
    const keptSize = this.current.signed?.size ?? 0;
    const halted = await this.update((state) =>
      state.halt ? undefined : { halt: { cause, description, keptSize, treeSize, at: now } },
    );
    if (!halted) return;
    await this.options.alarm.raise(
      logAlert(
        {
          rule: 'LOG_ROLLBACK',
          window:
            cause === 'WITNESS_REFUSED' || cause === 'WITNESS_AHEAD' ? 'witness' : 'checkpoint',
          since: this.current.signed?.at ?? now,
          observed: treeSize,
          threshold: keptSize,
          key: `${keptSize}:${now.toISOString()}`,
        },
        this.alertContext(now),
      ),
      `${cause}: ${description}; the log publishes no checkpoint until an operator acts`,
    );
  }

  /**
   * The operator's answer to a halt, at start-up: the stored tree `head`, named exactly
   * by the operator, becomes what the log checks against, and publication resumes.
   * When it extends the kept checkpoint (the database was restored), nothing is lost;
   * when it does not, the kept checkpoint is replaced by the bare tree (no note) and
   * witnesses that cosigned the old one will refuse the new ones: the caller says so.
   */
  async acceptTree(
    nodes: NodeHashReader,
    head: LogHead,
  ): Promise<'NOT_HALTED' | 'RESTORED' | 'REPLACED'> {
    if (!this.current.halt) return 'NOT_HALTED';
    const kept = this.current.signed;
    const problem = kept && (await extensionProblem(nodes, kept, head));
    this.proved = undefined;
    if (!problem) {
      await this.update({ halt: undefined });
      return 'RESTORED';
    }
    await this.update({
      halt: undefined,
      signed: {
        size: head.size,
        rootHash: head.rootHash,
        signedNote: '',
        at: this.options.clock(),
      },
    });
    return 'REPLACED';
  }

  /**
   * A restored log's first start: the checkpoint it served when its backup began (its
   * signed note, with its witnesses' cosignatures, from the backup's manifest) becomes
   * what it checks every tree against, as if its kept state had been backed up with it.
   * The log's own signature must verify (anything else throws); each witness whose
   * cosignature verifies is recorded as holding that size, and the checkpoint is
   * published again once every witness's does. Only an empty kept state takes it: a log
   * that kept anything has its own, newer word, and a restored database that does not
   * extend it halts as any rollback does. From there the witnesses decide: one that
   * cosigned a larger tree after the backup answers with its size, and the log halts
   * (WITNESS_AHEAD) rather than accept the rollback.
   */
  async adoptRestored(
    signedNote: string,
    witnesses: readonly { readonly name: string; readonly verifier: NoteVerifier }[],
  ): Promise<
    | { readonly outcome: 'ADOPTED'; readonly size: number; readonly cosignedBy: string[] }
    | { readonly outcome: 'KEPT_STATE_EXISTS' }
  > {
    const { signed, cosigned, halt } = this.current;
    if (signed || cosigned || halt) return { outcome: 'KEPT_STATE_EXISTS' };
    const { size, rootHash } = openCheckpoint(
      signedNote,
      [this.options.verifier],
      this.options.origin,
    ).checkpoint;
    const cosignedBy = witnesses
      .filter((witness) => {
        try {
          return verifyCosignatures(signedNote, [witness.verifier]).length > 0;
        } catch {
          return false;
        }
      })
      .map((witness) => witness.name);
    const now = this.options.clock();
    const checkpoint: KeptCheckpoint = { size, rootHash, signedNote, at: now };
    const everyWitness = cosignedBy.length === witnesses.length;
    await this.update({
      signed: checkpoint,
      cosigned: everyWitness ? checkpoint : undefined,
      witnessSizes: Object.fromEntries(cosignedBy.map((name) => [name, size])),
      pendingSince: everyWitness ? undefined : now,
    });
    return { outcome: 'ADOPTED', size, cosignedBy };
  }

  /** The not-cosigned alert, raised once per stall when one has lasted `afterMs`. */
  async checkCosigningStall(afterMs: number): Promise<boolean> {
    const since = this.current.pendingSince;
    const now = this.options.clock();
    if (!since || now.getTime() - since.getTime() < afterMs) return false;
    if (this.stallAlerted?.getTime() === since.getTime()) return false;
    this.stallAlerted = since;
    const cosignedSize = this.current.cosigned?.size ?? 0;
    await this.options.alarm.raise(
      logAlert(
        {
          rule: 'CHECKPOINT_NOT_COSIGNED',
          window: `${Math.round(afterMs / 1000)}s`,
          since,
          observed: this.current.signed?.size ?? 0,
          threshold: cosignedSize,
          key: `${cosignedSize}:${since.toISOString()}`,
        },
        this.alertContext(now),
      ),
      `no checkpoint cosigned since ${since.toISOString()}; the newest waiting is of ${this.current.signed?.size ?? 0} entries`,
    );
    return true;
  }

  /** A CRITICAL LOG_TAMPERED alert: VerifyLog found the stored log differing from itself. */
  async tampered(facts: { kind: string; index: number; description: string }): Promise<void> {
    const now = this.options.clock();
    await this.options.alarm.raise(
      logAlert(
        {
          rule: 'LOG_TAMPERED',
          window: 'instant',
          since: now,
          observed: facts.index,
          threshold: this.current.signed?.size ?? 0,
          key: `${facts.kind}:${facts.index}`,
        },
        this.alertContext(now),
      ),
      facts.description,
    );
  }

  private alertContext(now: Date) {
    return { origin: this.options.origin, actor: this.options.actor, now };
  }

  private isOwn(checkpoint: StoredCheckpoint): boolean {
    try {
      const opened = openCheckpoint(
        checkpoint.signedNote,
        [this.options.verifier],
        this.options.origin,
      ).checkpoint;
      return opened.size === checkpoint.size && sameHash(opened.rootHash, checkpoint.rootHash);
    } catch {
      return false;
    }
  }

  // Changes are saved one after another, each on the state the previous one left.
  private saving: Promise<unknown> = Promise.resolve();

  /** Applies a change (or none, when `change` gives undefined); true when one was saved. */
  private update(
    change: Partial<KeptState> | ((state: KeptState) => Partial<KeptState> | undefined),
  ): Promise<boolean> {
    const apply = async () => {
      // Shared with other instances: the change applies to what they saved.
      if (this.options.stateLock) this.current = (await this.options.store.load()) ?? this.current;
      const partial = typeof change === 'function' ? change(this.current) : change;
      if (!partial) return false;
      const next = { ...this.current, ...partial };
      await this.options.store.save(next);
      this.current = next;
      return true;
    };
    const lock = this.options.stateLock;
    const run = this.saving.then(() => (lock ? lock.run(apply) : apply()));
    this.saving = run.catch(() => undefined);
    return run;
  }
}
