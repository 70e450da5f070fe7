import { describe, expect, it } from 'vitest';
import {
  auditCheckpoint,
  generateSignerKey,
  leafHash,
  parseSignerKey,
  parseVerifierKey,
  rootOf,
  TlogError,
} from '@vaxguard/tlog';
import { encodeEntry } from './entry-encoding';
import { aRecord, MemoryKeptState, MemoryLog, RecordingAlarm } from './fakes';
import { LogKeeper } from './log-keeper';
import { LogReader, type VerifyReport } from './log-reader';
import { encodePageToken } from './log-rules';
import { LogWriter } from './log-writer';
import type { LogEntry } from './model';

const AUDITOR = { staffId: 'stf_auditor', role: 'AUDITOR' };

async function aLog(policy = { everyEntries: 4, intervalMs: 60_000 }) {
  const { signerKey, verifierKey } = generateSignerKey('audit.test.vaxguard');
  const signer = parseSignerKey(signerKey);
  let now = Date.UTC(2026, 11, 1);
  const clock = () => new Date(now);
  const store = new MemoryLog();
  const alarm = new RecordingAlarm();
  const verifier = parseVerifierKey(verifierKey);
  const keeper = await LogKeeper.open({
    store: new MemoryKeptState(),
    alarm,
    origin: signer.name,
    verifier,
    actor: 'svc-audit',
    clock,
    publishes: 'SIGNED',
  });
  const logWriter = new LogWriter({ origin: signer.name, signer, policy, clock, guard: keeper });
  // Each write is followed by a publication round's keeping of the newest checkpoint.
  const keepLatest = async () => {
    const latest = await store.latestCheckpoint();
    if (latest) await keeper.keep(store, latest);
  };
  const writer = {
    async append(tx: MemoryLog, records: Parameters<LogWriter['append']>[1]) {
      const head = await logWriter.append(tx, records);
      await keepLatest();
      return head;
    },
    async checkpoint(tx: MemoryLog) {
      const checkpoint = await logWriter.checkpoint(tx);
      await keepLatest();
      return checkpoint;
    },
  };
  const reader = new LogReader({ store, kept: keeper, origin: signer.name, verifierKey, verifier });
  return {
    store,
    writer,
    reader,
    keeper,
    alarm,
    verifierKey,
    advance: (ms: number) => (now += ms),
  };
}

describe('the transparency log', () => {
  it('appends records in order as RFC 6962 leaves of their canonical bytes, in batches', async () => {
    const { store, writer } = await aLog();
    const records = Array.from({ length: 13 }, () => aRecord());
    await writer.append(store, records.slice(0, 5));
    await writer.append(store, records.slice(5, 6));
    const head = await writer.append(store, records.slice(6));
    expect(head.size).toBe(13);
    expect(Buffer.from(head.rootHash)).toEqual(
      Buffer.from(rootOf(records.map((record) => leafHash(encodeEntry(record))))),
    );
    expect((await store.entries(0, 13)).map((entry) => entry.columns.eventId)).toEqual(
      records.map((record) => record.event.eventId),
    );
  });

  it('goes on from the stored nodes when another writer appended in between (a restart)', async () => {
    const first = await aLog();
    const records = Array.from({ length: 9 }, () => aRecord());
    await first.writer.append(first.store, records.slice(0, 7));
    const restarted = new LogWriter({
      origin: 'audit.test.vaxguard',
      signer: parseSignerKey(generateSignerKey('audit.test.vaxguard').signerKey),
      policy: { everyEntries: 100, intervalMs: 60_000 },
      clock: () => new Date(),
      guard: first.keeper,
    });
    const head = await restarted.append(first.store, records.slice(7));
    expect(Buffer.from(head.rootHash)).toEqual(
      Buffer.from(rootOf(records.map((record) => leafHash(encodeEntry(record))))),
    );
  });

  it('signs a checkpoint every N entries or after T of growth; proofs from storage verify with the public key alone', async () => {
    const { store, writer, reader, verifierKey, advance } = await aLog();
    await writer.checkpoint(store);
    await writer.append(
      store,
      Array.from({ length: 3 }, () => aRecord()),
    );
    expect(store.checkpoints.map(({ size }) => size)).toEqual([0]);
    await writer.append(store, [aRecord()]);
    expect(store.checkpoints.map(({ size }) => size)).toEqual([0, 4]);
    await writer.append(store, [aRecord(), aRecord()]);
    expect(await writer.checkpoint(store)).toBeUndefined();
    advance(60_000);
    await writer.checkpoint(store);
    expect(store.checkpoints.map(({ size }) => size)).toEqual([0, 4, 6]);

    const { checkpoint } = reader.latestCheckpoint();
    const entry = (store.entriesByIndex.get(2) as LogEntry).entry;
    const inclusion = await reader.inclusionProof(2, 0);
    const consistency = await reader.consistencyProof(4, 0);
    const old = store.checkpoints[1];
    const audited = auditCheckpoint({
      verifierKey,
      signedCheckpoint: checkpoint.signedNote,
      inclusion: { leafHash: leafHash(entry), index: 2, proof: inclusion.hashes },
      consistency: {
        previous: { size: 4, rootHash: old?.rootHash ?? new Uint8Array() },
        proof: consistency.hashes,
      },
    });
    expect(audited.size).toBe(6);
    expect(() =>
      auditCheckpoint({
        verifierKey,
        signedCheckpoint: checkpoint.signedNote,
        inclusion: { leafHash: leafHash(Buffer.from('forged')), index: 2, proof: inclusion.hashes },
      }),
    ).toThrow(TlogError);
    // A proof is one batch read of stored nodes.
    const reads = store.nodeReads;
    await reader.inclusionProof(5, 6);
    expect(store.nodeReads - reads).toBe(1);
  });

  it('refuses a position past the end OUT_OF_RANGE, and a request no log answers INVALID_ARGUMENT', async () => {
    const { store, writer, reader } = await aLog();
    await writer.append(
      store,
      Array.from({ length: 4 }, () => aRecord()),
    );
    const refusal = async (call: Promise<unknown>) =>
      call.then(
        () => 'answered',
        (error: { code?: string }) => error.code,
      );
    // The latest checkpoint covers 4 entries; the log's head is 4 too.
    expect({
      leafPastLatest: await refusal(reader.inclusionProof(4, 0)),
      treePastHead: await refusal(reader.inclusionProof(0, 5)),
      oldSizePastLatest: await refusal(reader.consistencyProof(5, 0)),
      newSizePastHead: await refusal(reader.consistencyProof(1, 5)),
      entriesPastHead: await refusal(
        reader.entries(AUDITOR, { start: 5, end: 0, pageSize: 0, pageToken: '' }),
      ),
      verifyPastHead: await refusal(reader.verify(AUDITOR, 0, 5)),
      leafOutsideNamedTree: await refusal(reader.inclusionProof(3, 2)),
      fromEmptyTree: await refusal(reader.consistencyProof(0, 0)),
      reversedSizes: await refusal(reader.consistencyProof(3, 2)),
      reversedEntries: await refusal(
        reader.entries(AUDITOR, { start: 3, end: 2, pageSize: 0, pageToken: '' }),
      ),
      lastLeaf: await refusal(reader.inclusionProof(3, 0)),
    }).toEqual({
      leafPastLatest: 'OUT_OF_RANGE',
      treePastHead: 'OUT_OF_RANGE',
      oldSizePastLatest: 'OUT_OF_RANGE',
      newSizePastHead: 'OUT_OF_RANGE',
      entriesPastHead: 'OUT_OF_RANGE',
      verifyPastHead: 'OUT_OF_RANGE',
      leafOutsideNamedTree: 'INVALID_ARGUMENT',
      fromEmptyTree: 'INVALID_ARGUMENT',
      reversedSizes: 'INVALID_ARGUMENT',
      reversedEntries: 'INVALID_ARGUMENT',
      lastLeaf: 'answered',
    });
  });

  it('signs at every N entries inside a large batch, each checkpoint the root of exactly that many', async () => {
    const { store, writer } = await aLog({ everyEntries: 4, intervalMs: 60_000 });
    await writer.checkpoint(store);
    const records = Array.from({ length: 11 }, () => aRecord());
    await writer.append(store, records);
    expect(store.checkpoints.map(({ size }) => size)).toEqual([0, 4, 8]);
    const leaves = records.map((record) => leafHash(encodeEntry(record)));
    for (const { size, rootHash } of store.checkpoints.slice(1)) {
      expect(Buffer.from(rootHash)).toEqual(Buffer.from(rootOf(leaves.slice(0, size))));
    }
  });

  describe('VerifyLog', () => {
    async function grownLog(entries: number) {
      const log = await aLog({ everyEntries: 5, intervalMs: 60_000 });
      for (let i = 0; i < entries; i += 3) {
        await log.writer.append(
          log.store,
          Array.from({ length: Math.min(3, entries - i) }, () => aRecord()),
        );
      }
      return log;
    }

    it('passes an untouched log, checking every signed checkpoint in the range', async () => {
      const { reader } = await grownLog(20);
      const report = await reader.verify(AUDITOR, 0, 0);
      expect(report).toMatchObject({
        from: 0,
        to: 20,
        checkedTo: 20,
        checkpointsChecked: 4,
        verifiedUpTo: { treeSize: 18 },
        nextPageToken: '',
      });
      expect(report.firstMismatch).toBeUndefined();
      expect((await reader.verify(AUDITOR, 7, 16)).firstMismatch).toBeUndefined();
    });

    /** Every page of [from, to) of `pageSize`, as a caller pages them, until one ends it. */
    async function pagesOf(
      reader: LogReader,
      range: { from: number; to: number; pageSize: number },
    ): Promise<VerifyReport[]> {
      const pages: VerifyReport[] = [];
      let pageToken = '';
      do {
        const page = await reader.verify(AUDITOR, range.from, range.to, {
          pageSize: range.pageSize,
          pageToken,
        });
        pages.push(page);
        pageToken = page.nextPageToken;
      } while (pageToken);
      return pages;
    }

    it('verifies a log a page at a time, each page ending at a checkpoint and starting where the one before stopped', async () => {
      const { reader } = await grownLog(20);
      // Signed at 3, 8, 13 and 18; pages of at most 6 entries.
      const pages = await pagesOf(reader, { from: 0, to: 0, pageSize: 6 });
      expect(pages.map(({ from, checkedTo }) => [from, checkedTo])).toEqual([
        [0, 3],
        [3, 8],
        [8, 13],
        [13, 18],
        [18, 20],
      ]);
      expect(pages.map((page) => page.verifiedUpTo?.treeSize)).toEqual([3, 8, 13, 18, undefined]);
      expect(pages.every((page) => page.to === 20 && !page.firstMismatch)).toBe(true);
      expect(pages.reduce((sum, page) => sum + page.checkpointsChecked, 0)).toBe(4);
    });

    it('reads no more than a page of entries and checkpoints per call, and goes on past a stretch with no checkpoint', async () => {
      // One checkpoint for 30 entries: pages of 4 end where their size does.
      const log = await aLog({ everyEntries: 25, intervalMs: 60_000 });
      await log.writer.append(
        log.store,
        Array.from({ length: 30 }, () => aRecord()),
      );
      const spans: number[] = [];
      const entries = log.store.entries.bind(log.store);
      const checkpointsBetween = log.store.checkpointsBetween.bind(log.store);
      log.store.entries = (start, end) => {
        spans.push(end - start);
        return entries(start, end);
      };
      log.store.checkpointsBetween = (from, to) => {
        spans.push(to - from);
        return checkpointsBetween(from, to);
      };
      const pages = await pagesOf(log.reader, { from: 0, to: 0, pageSize: 4 });
      expect(pages.map(({ checkedTo }) => checkedTo)).toEqual([4, 8, 12, 16, 20, 24, 28, 30]);
      expect(pages.flatMap((page) => page.verifiedUpTo?.treeSize ?? [])).toEqual([30]);
      expect(pages.at(-1)?.firstMismatch).toBeUndefined();
      expect(Math.max(...spans)).toBe(4);
    });

    it('names an entry tampered with in the third page, the mark stopping before it', async () => {
      const { store, reader } = await grownLog(20);
      const entry = store.entriesByIndex.get(11) as LogEntry;
      store.entriesByIndex.set(11, {
        ...entry,
        entry: Buffer.from(Buffer.from(entry.entry).toString().replace('stf_', 'stx_')),
      });
      const pages = await pagesOf(reader, { from: 0, to: 0, pageSize: 6 });
      expect(pages).toHaveLength(3);
      const third = pages[2] as VerifyReport;
      expect(third.firstMismatch).toMatchObject({ kind: 'LEAF_HASH', index: 11 });
      expect(third.nextPageToken).toBe('');
      // The last mark any page gave is the checkpoint of 8, before the entry.
      expect(pages.flatMap((page) => page.verifiedUpTo?.treeSize ?? [])).toEqual([3, 8]);
    });

    it('takes nothing on trust from a page token: it is a position, checked like a range', async () => {
      const { store, reader } = await grownLog(20);
      // A token forged to start past a changed entry says where it started: the report
      // covers from there, never the entry skipped.
      const forged = encodePageToken({ next: 12, end: 20 });
      const entry = store.entriesByIndex.get(11) as LogEntry;
      store.entriesByIndex.set(11, { ...entry, entry: Buffer.from('forged') });
      const skipped = await reader.verify(AUDITOR, 0, 0, { pageSize: 0, pageToken: forged });
      expect(skipped).toMatchObject({ from: 12, to: 20, checkedTo: 20 });
      // The stored tree the page starts from is checked by the next signed root: a node
      // rewritten under the token's position is named, whatever the token says.
      store.entriesByIndex.set(11, entry);
      store.nodes.set('2/2', new Uint8Array(32));
      expect(
        (await reader.verify(AUDITOR, 0, 0, { pageSize: 0, pageToken: forged })).firstMismatch,
      ).toMatchObject({ kind: 'CHECKPOINT_ROOT', index: 12, checkpointSize: 13 });
      // Tokens this service never gave, or past the log's end, are refused.
      await expect(
        reader.verify(AUDITOR, 0, 0, { pageSize: 0, pageToken: 'not-a-token' }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'BAD_PAGE_TOKEN' });
      await expect(
        reader.verify(AUDITOR, 0, 0, {
          pageSize: 0,
          pageToken: encodePageToken({ next: 0, end: 21 }),
        }),
      ).rejects.toMatchObject({ code: 'OUT_OF_RANGE' });
    });

    it('verifies the newest entries alone, from the stored tree before them', async () => {
      const { reader } = await grownLog(20);
      const pages = await pagesOf(reader, { from: 20 - 9, to: 0, pageSize: 4 });
      expect(pages.map(({ from, checkedTo }) => [from, checkedTo])).toEqual([
        [11, 13],
        [13, 17],
        [17, 20],
      ]);
      expect(pages.at(-1)?.firstMismatch).toBeUndefined();
    });

    it('names an entry whose bytes were changed, one deleted, and one whose columns were changed', async () => {
      const changed = await grownLog(20);
      const entry = changed.store.entriesByIndex.get(11) as LogEntry;
      changed.store.entriesByIndex.set(11, {
        ...entry,
        entry: Buffer.from(
          Buffer.from(entry.entry).toString().replace('stf_vaccinator', 'stf_someoneelse'),
        ),
      });
      expect((await changed.reader.verify(AUDITOR, 0, 0)).firstMismatch).toMatchObject({
        kind: 'LEAF_HASH',
        index: 11,
      });

      const deleted = await grownLog(20);
      deleted.store.entriesByIndex.delete(8);
      expect((await deleted.reader.verify(AUDITOR, 0, 0)).firstMismatch).toMatchObject({
        kind: 'ENTRY_MISSING',
        index: 8,
      });

      const columns = await grownLog(20);
      const row = columns.store.entriesByIndex.get(3) as LogEntry;
      columns.store.entriesByIndex.set(3, {
        ...row,
        columns: { ...row.columns, actorId: 'stf_other' },
      });
      expect((await columns.reader.verify(AUDITOR, 0, 0)).firstMismatch).toMatchObject({
        kind: 'ENTRY_COLUMNS',
        index: 3,
      });
    });

    it('detects the newest entries deleted and the head rewound, against the checkpoint kept outside the database', async () => {
      const { store, reader } = await grownLog(20);
      for (let index = 16; index < 20; index++) store.entriesByIndex.delete(index);
      store.current = { size: 16, rootHash: store.current.rootHash };
      expect((await reader.verify(AUDITOR, 0, 0)).firstMismatch).toMatchObject({
        kind: 'LOG_SHRUNK',
        index: 16,
        // Signed at 3, 8, 13 and 18.
        checkpointSize: 18,
      });
    });

    it('detects an entry and its leaf rewritten together by the signed root, naming the span', async () => {
      const { store, reader } = await grownLog(20);
      const entry = store.entriesByIndex.get(12) as LogEntry;
      // A change no query column shows: only the signed root can catch it.
      const forged = Buffer.from(
        Buffer.from(entry.entry).toString().replace('"correlationId":""', '"correlationId":"x"'),
      );
      store.entriesByIndex.set(12, { ...entry, entry: forged });
      store.nodes.set('0/12', leafHash(forged));
      expect((await reader.verify(AUDITOR, 0, 0)).firstMismatch).toMatchObject({
        kind: 'CHECKPOINT_ROOT',
        // Checkpoints were signed at 3, 8, 13 and 18: the change is after 8, up to 13.
        index: 8,
        checkpointSize: 13,
      });
    });

    it('names the first entry under a stored tree node that proofs would be built from, when it was changed', async () => {
      const { store, reader } = await grownLog(20);
      store.nodes.set('2/2', new Uint8Array(32));
      expect((await reader.verify(AUDITOR, 0, 0)).firstMismatch).toMatchObject({
        kind: 'TREE_NODE',
        index: 8,
      });
    });

    it('is for auditors only', async () => {
      const { reader } = await grownLog(3);
      await expect(reader.verify({ staffId: 'v', role: 'VACCINATOR' }, 0, 0)).rejects.toMatchObject(
        {
          reason: 'NOT_AUDITOR',
        },
      );
      await expect(
        reader.entries(undefined, { start: 0, end: 0, pageSize: 0, pageToken: '' }),
      ).rejects.toMatchObject({
        reason: 'NOT_AUDITOR',
      });
    });
  });

  it('pages entries with a token that keeps the range', async () => {
    const { store, writer, reader } = await aLog();
    await writer.append(
      store,
      Array.from({ length: 7 }, () => aRecord()),
    );
    const first = await reader.entries(AUDITOR, { start: 1, end: 6, pageSize: 3, pageToken: '' });
    expect(first.entries.map(({ index }) => index)).toEqual([1, 2, 3]);
    const second = await reader.entries(AUDITOR, {
      start: 0,
      end: 0,
      pageSize: 3,
      pageToken: first.nextPageToken,
    });
    expect(second.entries.map(({ index }) => index)).toEqual([4, 5]);
    expect(second.nextPageToken).toBe('');
  });
});
