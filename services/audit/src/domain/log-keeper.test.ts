import { describe, expect, it } from 'vitest';
import {
  createCosignatureSigner,
  generateSignerKey,
  parseCheckpoint,
  parseCosignatureVerifierKey,
  parseSignerKey,
  parseVerifierKey,
  readRoot,
  signNote,
  verifyConsistency,
  verifyCosignatures,
} from '@vaxguard/tlog';
import { Cosigner, WitnessConflict, WitnessRefusedFork, type Witness } from './cosigner';
import { aRecord, MemoryKeptState, MemoryLog, RecordingAlarm } from './fakes';
import { LogKeeper, type InstanceLock } from './log-keeper';
import { LogReader } from './log-reader';
import { LogWriter } from './log-writer';
import type { LogEntry } from './model';

const AUDITOR = { staffId: 'stf_auditor', role: 'AUDITOR' };
const ORIGIN = 'audit.keeper-test.vaxguard';

/**
 * A witness as c2sp.org/tlog-witness describes one, in memory: it holds the size and
 * root it last cosigned, answers 409 with its size when the old size is not it, 422
 * when the proof does not show the new checkpoint extends it, and cosigns otherwise.
 */
class FakeWitness implements Witness {
  readonly name = 'witness.test';
  private readonly cosigner = createCosignatureSigner('witness.test');
  readonly verifier = parseCosignatureVerifierKey(this.cosigner.verifierKey);
  held: { size: number; rootHash: Uint8Array } | undefined;
  down = false;
  submissions = 0;

  async addCheckpoint(request: {
    oldSize: number;
    consistencyProof: readonly Uint8Array[];
    checkpoint: string;
  }): Promise<string> {
    this.submissions++;
    if (this.down) throw new Error('connect ECONNREFUSED');
    const text = request.checkpoint.slice(0, request.checkpoint.indexOf('\n\n') + 1);
    const checkpoint = parseCheckpoint(text);
    const heldSize = this.held?.size ?? 0;
    if (request.oldSize !== heldSize) throw new WitnessConflict(heldSize);
    // From 0 there is nothing to prove (an empty tree is a prefix of any).
    if (
      this.held?.size &&
      !verifyConsistency(
        this.held.size,
        checkpoint.size,
        [...request.consistencyProof],
        this.held.rootHash,
        checkpoint.rootHash,
      )
    ) {
      throw new WitnessRefusedFork('the proof does not hold');
    }
    this.held = { size: checkpoint.size, rootHash: checkpoint.rootHash };
    return signNote(text, [this.cosigner]).slice(text.length + 1);
  }
}

async function aKeptLog(
  options: {
    witness?: FakeWitness;
    stateStore?: MemoryKeptState;
    /** The log's key (default: a new one). */
    signerKey?: string;
    /** Its database (default: an empty one). */
    store?: MemoryLog;
    /** AUDIT_RESTORED_CHECKPOINT: offered to the keeper as it opens, as the app does. */
    restoredCheckpoint?: string;
  } = {},
) {
  const signer = parseSignerKey(options.signerKey ?? generateSignerKey(ORIGIN).signerKey);
  let now = Date.UTC(2026, 11, 1, 6);
  const clock = () => new Date(now);
  const store = options.store ?? new MemoryLog();
  const alarm = new RecordingAlarm();
  const stateStore = options.stateStore ?? new MemoryKeptState();
  const verifier = parseVerifierKey(signer.verifierKey);
  const open = () =>
    LogKeeper.open({
      store: stateStore,
      alarm,
      origin: ORIGIN,
      verifier,
      actor: 'svc-audit',
      clock,
      publishes: options.witness ? 'COSIGNED' : 'SIGNED',
    });
  const keeper = await open();
  const adopted =
    options.restoredCheckpoint === undefined
      ? undefined
      : await keeper.adoptRestored(
          options.restoredCheckpoint,
          options.witness ? [options.witness] : [],
        );
  const policy = { everyEntries: 5, intervalMs: 60_000 };
  const writer = new LogWriter({ origin: ORIGIN, signer, policy, clock, guard: keeper });
  const reader = new LogReader({
    store,
    kept: keeper,
    origin: ORIGIN,
    verifierKey: signer.verifierKey,
    verifier,
  });
  const cosigner = options.witness
    ? new Cosigner({ keeper, witnesses: [options.witness], clock })
    : undefined;
  /** What the publication loop does in a round: keep the newest stored checkpoint, have it cosigned. */
  const publish = async () => {
    const latest = await store.latestCheckpoint();
    if (latest) await keeper.keep(store, latest);
    return cosigner?.cosign(store);
  };
  const append = async (count: number) => {
    const head = await writer.append(
      store,
      Array.from({ length: count }, () => aRecord()),
    );
    await publish();
    return head;
  };
  await writer.checkpoint(store);
  await publish();
  return {
    store,
    writer,
    reader,
    keeper,
    adopted,
    alarm,
    stateStore,
    open,
    publish,
    append,
    advance: (ms: number) => (now += ms),
  };
}

/** What someone with write access to the database does: drop everything from `size` on and recompute the head. */
async function truncate(store: MemoryLog, size: number): Promise<void> {
  for (const index of [...store.entriesByIndex.keys()]) {
    if (index >= size) store.entriesByIndex.delete(index);
  }
  for (const key of [...store.nodes.keys()]) {
    const [level = 0, index = 0] = key.split('/').map(Number);
    if ((index + 1) * 2 ** level > size) store.nodes.delete(key);
  }
  store.checkpoints.splice(store.checkpoints.findIndex((c) => c.size > size));
  store.current = { size, rootHash: await readRoot(store, size) };
}

/** A copy of a log's database as a backup holds it. */
function backupOf(store: MemoryLog): MemoryLog {
  const copy = new MemoryLog();
  for (const [index, entry] of store.entriesByIndex) copy.entriesByIndex.set(index, entry);
  for (const [key, hash] of store.nodes) copy.nodes.set(key, hash);
  copy.checkpoints.push(...store.checkpoints);
  copy.current = store.current;
  return copy;
}

describe('the log keeper', () => {
  it('keeps every checkpoint the log signs outside the database, before it is published', async () => {
    const log = await aKeptLog();
    await log.append(12);
    expect(log.keeper.state.signed?.size).toBe(10);
    expect(log.stateStore.state?.signed?.size).toBe(10);
    expect(log.reader.latestCheckpoint().checkpoint.size).toBe(10);
  });

  it('refuses to sign a truncated log with its head recomputed: a CRITICAL alert, a halt kept across a restart, appends go on', async () => {
    const log = await aKeptLog();
    await log.append(23);
    expect(log.keeper.state.signed?.size).toBe(20);
    await truncate(log.store, 12);
    const signedBefore = log.store.checkpoints.length;

    // Entries still arrive and are kept; VerifyLog names the first entry gone, where the
    // halt saw the stored tree end, not where it ends now.
    await log.append(3);
    expect((await log.reader.verify(AUDITOR, 0, 0)).firstMismatch).toMatchObject({
      kind: 'LOG_SHRUNK',
      index: 12,
      checkpointSize: 20,
    });
    // Past the old size even (a fork grows).
    await log.append(11);
    log.advance(60_000);
    expect(await log.writer.checkpoint(log.store)).toBeUndefined();
    expect(log.store.current.size).toBe(26);
    expect(log.store.checkpoints).toHaveLength(signedBefore);
    expect(log.keeper.halt).toMatchObject({ cause: 'SHRUNK', keptSize: 20, treeSize: 12 });
    expect(log.alarm.rules()).toEqual(['LOG_ROLLBACK/CRITICAL', 'LOG_TAMPERED/CRITICAL']);
    // The last published checkpoint stays what it was.
    expect(log.reader.latestCheckpoint()).toMatchObject({
      checkpoint: { size: 20 },
      halt: { cause: 'SHRUNK' },
    });

    // A restart does not clear it: only the operator does.
    const restarted = await log.open();
    expect(restarted.halt?.cause).toBe('SHRUNK');
    expect(await restarted.maySign(log.store, log.store.current)).toBe(false);
  });

  it('refuses a fork that grew past the kept size with its tree nodes recomputed', async () => {
    const log = await aKeptLog();
    await log.append(10);
    const kept = log.keeper.state.signed;
    expect(kept?.size).toBe(10);
    // Rewrite the log from entry 7 with other entries, through a writer of the attacker's.
    await truncate(log.store, 7);
    const attacker = new LogWriter({
      origin: ORIGIN,
      signer: parseSignerKey(generateSignerKey(ORIGIN).signerKey),
      policy: { everyEntries: 1_000, intervalMs: 60_000 },
      clock: () => new Date(),
      guard: { maySign: async () => false, halt: undefined },
    });
    await attacker.append(
      log.store,
      Array.from({ length: 6 }, () => aRecord()),
    );
    expect(await log.keeper.maySign(log.store, log.store.current)).toBe(false);
    expect(log.keeper.halt).toMatchObject({ cause: 'FORKED', keptSize: 10, treeSize: 13 });
    // VerifyLog compares the recomputed root with the kept checkpoint's.
    expect((await log.reader.verify(AUDITOR, 0, 0)).firstMismatch).toMatchObject({
      kind: 'CHECKPOINT_ROOT',
      checkpointSize: 10,
    });
  });

  it('goes on, on its own, from a database restored to extend the kept checkpoint only after the operator accepts it', async () => {
    const log = await aKeptLog();
    await log.append(10);
    const saved = {
      entries: new Map(log.store.entriesByIndex),
      nodes: new Map(log.store.nodes),
      head: log.store.current,
    };
    await truncate(log.store, 4);
    await log.append(1);
    expect(log.keeper.halt?.cause).toBe('SHRUNK');
    // Restored from a backup: the same tree as before the truncation.
    log.store.entriesByIndex.clear();
    log.store.nodes.clear();
    for (const [k, v] of saved.entries) log.store.entriesByIndex.set(k, v);
    for (const [k, v] of saved.nodes) log.store.nodes.set(k, v);
    log.store.current = saved.head;
    expect(await log.keeper.maySign(log.store, log.store.current)).toBe(false);
    expect(await log.keeper.acceptTree(log.store, log.store.current)).toBe('RESTORED');
    expect(log.keeper.state.signed?.size).toBe(10);
    // Signed again once due (the database's own checkpoints after 4 were gone with the truncation).
    await log.append(1);
    expect(log.keeper.state.signed?.size).toBe(11);
    expect(log.alarm.rules()).toEqual(['LOG_ROLLBACK/CRITICAL']);
  });

  it('replaces the kept checkpoint by the bare tree an operator accepts when it does not extend it', async () => {
    const log = await aKeptLog();
    await log.append(10);
    await truncate(log.store, 4);
    await log.append(1);
    expect(await log.keeper.acceptTree(log.store, log.store.current)).toBe('REPLACED');
    expect(log.keeper.state.signed).toMatchObject({ size: 5, signedNote: '' });
    expect(log.keeper.halt).toBeUndefined();
    expect(await log.keeper.acceptTree(log.store, log.store.current)).toBe('NOT_HALTED');
  });

  it('raises a CRITICAL LOG_TAMPERED alert naming the first of two swapped entries', async () => {
    const log = await aKeptLog();
    await log.append(10);
    const [a, b] = [log.store.entriesByIndex.get(3), log.store.entriesByIndex.get(6)] as LogEntry[];
    log.store.entriesByIndex.set(3, { ...(b as LogEntry), index: 3 });
    log.store.entriesByIndex.set(6, { ...(a as LogEntry), index: 6 });
    expect((await log.reader.verify(AUDITOR, 0, 0)).firstMismatch).toMatchObject({
      kind: 'LEAF_HASH',
      index: 3,
    });
    expect([...log.alarm.alerts.values()]).toMatchObject([
      {
        rule: 'LOG_TAMPERED',
        severity: 'CRITICAL',
        principal: { kind: 'SERVICE', id: ORIGIN },
        window: { observed: 3 },
      },
    ]);
    // Verified again, it is the same alert.
    await log.reader.verify(AUDITOR, 0, 0);
    expect(log.alarm.alerts.size).toBe(1);
  });
});

describe('witness cosigning', () => {
  it('publishes only what the witness cosigned, each cosignature verifying with its key', async () => {
    const witness = new FakeWitness();
    const log = await aKeptLog({ witness });
    await log.append(7);
    const { checkpoint } = log.reader.latestCheckpoint();
    expect(checkpoint.size).toBe(5);
    const [cosignature] = verifyCosignatures(checkpoint.signedNote, [witness.verifier]);
    expect(cosignature?.name).toBe('witness.test');
    // Proofs at size 0 are against the published (cosigned) tree.
    expect((await log.reader.inclusionProof(2, 0)).checkpoint?.signedNote).toBe(
      checkpoint.signedNote,
    );
  });

  it('waits while the witness is down, appending on, alerts once after the window, and resumes', async () => {
    const witness = new FakeWitness();
    const log = await aKeptLog({ witness });
    await log.append(5);
    witness.down = true;
    await log.append(5);
    await log.append(5);
    expect(log.store.current.size).toBe(15);
    expect(log.keeper.state.signed?.size).toBe(15);
    expect(log.reader.latestCheckpoint().checkpoint.size).toBe(5);
    expect(await log.keeper.checkCosigningStall(5 * 60_000)).toBe(false);
    log.advance(5 * 60_000);
    expect(await log.keeper.checkCosigningStall(5 * 60_000)).toBe(true);
    expect(await log.keeper.checkCosigningStall(5 * 60_000)).toBe(false);
    expect(log.alarm.rules()).toEqual(['CHECKPOINT_NOT_COSIGNED/HIGH']);

    witness.down = false;
    expect(await log.publish()).toEqual({ kind: 'COSIGNED', size: 15 });
    expect(log.reader.latestCheckpoint().checkpoint.size).toBe(15);
    expect(log.keeper.state.pendingSince).toBeUndefined();
  });

  it('goes on from the size the witness says it holds (409)', async () => {
    const witness = new FakeWitness();
    const log = await aKeptLog({ witness });
    await log.append(5);
    // The state file lost what the witness holds (an older copy): the 409 tells.
    await log.keeper.witnessesHold({ 'witness.test': 0 });
    await log.append(5);
    expect(log.reader.latestCheckpoint().checkpoint.size).toBe(10);
    expect(log.keeper.state.witnessSizes).toEqual({ 'witness.test': 10 });
  });

  it('halts when the witness refuses a fork (422), and when it holds more than the log kept', async () => {
    const witness = new FakeWitness();
    const log = await aKeptLog({ witness });
    await log.append(10);
    // The state file and the database rolled back together (a restored pair of backups):
    // the log itself sees nothing wrong, the witness does.
    witness.down = true;
    const replay = await aKeptLog({ witness, stateStore: new MemoryKeptState() });
    await replay.append(12);
    witness.down = false;
    expect(await replay.publish()).toEqual({ kind: 'HALTED' });
    expect(witness.held?.size).toBe(10);
    expect(replay.keeper.halt?.cause).toBe('WITNESS_REFUSED');
    expect(replay.alarm.rules()).toEqual(['LOG_ROLLBACK/CRITICAL']);
    // Nothing of the replayed log was ever cosigned, so nothing of it is published.
    expect(() => replay.reader.latestCheckpoint()).toThrow(/not published/);

    const behind = await aKeptLog({ witness, stateStore: new MemoryKeptState() });
    await behind.keeper.witnessesHold({ 'witness.test': 10 });
    await behind.append(5);
    expect(behind.keeper.halt?.cause).toBe('WITNESS_AHEAD');
  });

  it('a restored log with a fresh state goes on from the checkpoint its backup was taken at: published again, cosigned on from there', async () => {
    const signerKey = generateSignerKey(ORIGIN).signerKey;
    const witness = new FakeWitness();
    const original = await aKeptLog({ witness, signerKey });
    await original.append(10);
    const atBackup = original.reader.latestCheckpoint().checkpoint;

    const restored = await aKeptLog({
      witness,
      signerKey,
      store: backupOf(original.store),
      stateStore: new MemoryKeptState(),
      restoredCheckpoint: atBackup.signedNote,
    });
    expect(restored.adopted).toEqual({
      outcome: 'ADOPTED',
      size: 10,
      cosignedBy: ['witness.test'],
    });
    expect(restored.reader.latestCheckpoint().checkpoint.signedNote).toBe(atBackup.signedNote);
    await restored.append(5);
    expect(restored.keeper.halt).toBeUndefined();
    expect(restored.reader.latestCheckpoint().checkpoint.size).toBe(15);
    expect(witness.held?.size).toBe(15);
    // Once the log keeps state of its own, a restored checkpoint is not taken again.
    expect(await restored.keeper.adoptRestored(atBackup.signedNote, [witness])).toEqual({
      outcome: 'KEPT_STATE_EXISTS',
    });
  });

  it('a restored log halts (WITNESS_AHEAD, CRITICAL LOG_ROLLBACK) when its witness cosigned more after the backup, still serving the checkpoint of the backup', async () => {
    const signerKey = generateSignerKey(ORIGIN).signerKey;
    const witness = new FakeWitness();
    const original = await aKeptLog({ witness, signerKey });
    await original.append(10);
    const atBackup = original.reader.latestCheckpoint().checkpoint;
    const backup = backupOf(original.store);
    await original.append(10);
    expect(witness.held?.size).toBe(20);

    const restored = await aKeptLog({
      witness,
      signerKey,
      store: backup,
      stateStore: new MemoryKeptState(),
      restoredCheckpoint: atBackup.signedNote,
    });
    // Five more (a checkpoint of 15): fewer than the 20 the witness cosigned.
    await restored.append(5);
    expect(restored.keeper.halt?.cause).toBe('WITNESS_AHEAD');
    expect(restored.keeper.halt?.description).toContain('cosigned a checkpoint of 20 entries');
    expect(restored.alarm.rules()).toEqual(['LOG_ROLLBACK/CRITICAL']);
    expect(witness.held?.size).toBe(20);
    const served = restored.reader.latestCheckpoint();
    expect(served.checkpoint.signedNote).toBe(atBackup.signedNote);
    expect(served.halt?.cause).toBe('WITNESS_AHEAD');
  });

  it('refuses a restored checkpoint another key signed; one no witness cosigned is kept, not published', async () => {
    const other = await aKeptLog({ witness: new FakeWitness() });
    await other.append(5);
    const foreign = other.reader.latestCheckpoint().checkpoint.signedNote;
    await expect(
      aKeptLog({ witness: new FakeWitness(), restoredCheckpoint: foreign }),
    ).rejects.toThrow();

    const signerKey = generateSignerKey(ORIGIN).signerKey;
    const witness = new FakeWitness();
    const original = await aKeptLog({ witness, signerKey });
    witness.down = true;
    await original.append(5);
    const uncosigned = (await original.store.latestCheckpoint())?.signedNote ?? '';
    const restored = await aKeptLog({
      witness,
      signerKey,
      store: backupOf(original.store),
      stateStore: new MemoryKeptState(),
      restoredCheckpoint: uncosigned,
    });
    expect(restored.adopted).toEqual({ outcome: 'ADOPTED', size: 5, cosignedBy: [] });
    expect(() => restored.reader.latestCheckpoint()).toThrow(/not published/);
    expect(restored.keeper.state.signed?.size).toBe(5);
  });
});

describe('instances sharing the kept state', () => {
  /** One holder at a time, as the advisory lock gives across processes. */
  function memoryLock(): InstanceLock {
    let tail: Promise<unknown> = Promise.resolve();
    let held = false;
    return {
      run<T>(work: () => Promise<T>): Promise<T> {
        const run = tail.then(async () => {
          held = true;
          try {
            return await work();
          } finally {
            held = false;
          }
        });
        tail = run.catch(() => undefined);
        return run;
      },
      async tryRun(work) {
        if (held) return false;
        await this.run(work);
        return true;
      },
    };
  }

  it('makes each change to what the other instance saved, and follows it on refresh', async () => {
    const shared = new MemoryKeptState();
    const stateLock = memoryLock();
    const open = () =>
      LogKeeper.open({
        store: shared,
        alarm: new RecordingAlarm(),
        origin: ORIGIN,
        verifier: parseVerifierKey(generateSignerKey(ORIGIN).verifierKey),
        actor: 'svc-audit',
        publishes: 'COSIGNED',
        clock: () => new Date(Date.UTC(2026, 11, 1, 6)),
        stateLock,
      });
    const first = await open();
    const second = await open();
    await first.witnessesHold({ 'witness.a': 5 });
    await first.haltWith('FORKED', 'a test fork', 9);
    // The second instance opened before either change: its own change keeps both.
    await second.witnessesHold({ 'witness.b': 7 });
    expect(shared.state?.halt?.cause).toBe('FORKED');
    expect(shared.state?.witnessSizes).toEqual({ 'witness.a': 5, 'witness.b': 7 });
    expect(second.halt?.cause).toBe('FORKED');
    // The first learns of the second's change when it refreshes.
    expect(first.state.witnessSizes).toEqual({ 'witness.a': 5 });
    await first.refresh();
    expect(first.state.witnessSizes).toEqual({ 'witness.a': 5, 'witness.b': 7 });
  });
});
