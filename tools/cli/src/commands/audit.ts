// `vaxguard audit verify | proofs | tail`: the audit log checked from outside with
// nothing but its public verifier key (libs/tlog): the witness round npm start runs,
// inclusion and consistency proofs verified locally, and the entries as they arrive,
// each batch covered by a signed checkpoint consistent with the one before.
// `vaxguard audit check`: the audit service's own VerifyLog over a range, page by page.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  AUDIT_VERIFY_EXIT,
  callAs,
  describeVerdict,
  grpcAuditLogSource,
  parseLogEntry,
  readVerifiedState,
  verifyAuditLog,
  verifyLogPages,
  writeVerifiedState,
} from '@vaxguard/dev-operator';
import { auditV1 } from '@vaxguard/proto';
import { auditCheckpoint, leafHash, type Checkpoint } from '@vaxguard/tlog';
import type { CliCommand } from '../cli';
import type { CommandContext, StaffCredentials } from '../context';
import { CheckFailedError, CliError, EXIT, toCliError, UsageError } from '../errors';
import { seconds, wholeNumber } from '../parse';
import { pause, staffCredentials, withStaffOptions, type StaffOptions } from '../staff';

const base64 = (hash: Uint8Array) => Buffer.from(hash).toString('base64');

function verifierKeyOf(context: CommandContext, options: { verifierKey?: string }): string {
  return options.verifierKey ?? context.platform().auditLog.verifierKey;
}

interface VerifyOptions extends StaffOptions {
  readonly state?: string;
  readonly verifierKey?: string;
  readonly witnessKey: string[];
  readonly full?: boolean;
}

/**
 * One round of the outside verifier (libs/dev-operator): exits 0 when the log verified,
 * 4 when it failed a check (the finding printed, the state kept as it was), 3 when it
 * could not be checked.
 */
async function verify(context: CommandContext, options: VerifyOptions) {
  const stateFile = options.state
    ? context.path(options.state)
    : resolve(context.platformDir, 'audit-log.witnessed');
  let verdict;
  try {
    const credentials = await staffCredentials(context, options);
    const previous = readVerifiedState(stateFile);
    verdict = await verifyAuditLog({
      // The entries are read as the auditor, signed in only when the round gets to them.
      source: grpcAuditLogSource(context.operator().audit, (use) =>
        context.asStaff(credentials, use),
      ),
      verifierKey: verifierKeyOf(context, options),
      witnessKeys: options.witnessKey,
      ...(previous ? { previous } : {}),
      ...(options.full ? { full: true } : {}),
    });
  } catch (error) {
    throw couldNotCheck(error);
  }
  const lines = describeVerdict(verdict, context.shown(stateFile));
  if (verdict.outcome === 'tampered') {
    context.result(lines, { ok: false, outcome: verdict.outcome, tampering: verdict.tampering });
    return EXIT.tampered;
  }
  writeVerifiedState(stateFile, verdict.state);
  const { checkpoint } = verdict;
  context.result(lines, {
    ok: true,
    outcome: verdict.outcome,
    origin: checkpoint.origin,
    size: checkpoint.size,
    rootHash: base64(checkpoint.rootHash),
    ...(verdict.previousSize !== undefined ? { previousSize: verdict.previousSize } : {}),
    entriesChecked: verdict.entriesChecked,
    cosignedBy: verdict.cosignedBy,
    stateFile,
  });
  return EXIT.ok;
}

interface CheckOptions extends StaffOptions {
  readonly from?: number;
  readonly to?: number;
  readonly newest?: number;
  readonly pageSize?: number;
}

/**
 * The audit service's VerifyLog over [from, to), a page at a time (it verifies at most
 * 10^4 entries a call), each page's progress on stderr: exits 0 when the range
 * verified, 4 when the service named a mismatch, 3 when it could not be checked.
 */
async function check(context: CommandContext, options: CheckOptions) {
  if (options.newest !== undefined && options.from !== undefined) {
    throw new UsageError('--newest and --from name the start twice: give one');
  }
  if (options.from !== undefined && options.to !== undefined && options.to < options.from) {
    throw new UsageError('--to must be at least --from');
  }
  const audit = context.operator().audit;
  let report;
  try {
    const credentials = await staffCredentials(context, options);
    let from = options.from ?? 0;
    if (options.newest !== undefined) {
      const latest = await audit.call('getCheckpoint', {}, { idempotent: true });
      from = Math.max(0, Number(latest.treeSize) - options.newest);
    }
    report = await verifyLogPages(
      (request) =>
        context.asStaff(credentials, (token) =>
          audit.call('verifyLog', request, callAs(token, true)),
        ),
      {
        from,
        to: options.to ?? 0,
        pageSize: options.pageSize ?? 0,
        onPage: (page, pages) =>
          context.note(
            `page ${pages}: entries ${page.from} to ${Number(page.checkedTo) - 1} of ${from} to ${Number(page.to) - 1} checked${page.verifiedUpTo ? `, verified up to the checkpoint of ${page.verifiedUpTo.treeSize}` : ''}`,
          ),
      },
    );
  } catch (error) {
    throw couldNotCheck(error);
  }
  const mark = report.verifiedUpTo && {
    treeSize: Number(report.verifiedUpTo.treeSize),
    rootHash: base64(report.verifiedUpTo.rootHash),
  };
  const summary = {
    from: Number(report.from),
    to: Number(report.to),
    pages: report.pages,
    checkpointsChecked: report.checkpointsChecked,
    ...(mark ? { verifiedUpTo: mark } : {}),
  };
  const mismatch = report.firstMismatch;
  if (mismatch) {
    const kind = auditV1.mismatchKindToJSON(mismatch.kind).replace('MISMATCH_KIND_', '');
    context.result(
      [
        `the audit log does not verify: ${kind} at entry ${mismatch.index}: ${mismatch.description}`,
        mark
          ? `verified before it: up to the checkpoint of ${mark.treeSize} (root ${mark.rootHash})`
          : 'no checkpoint was verified before it',
      ],
      {
        ok: false,
        ...summary,
        mismatch: {
          kind,
          index: Number(mismatch.index),
          checkpointSize: Number(mismatch.checkpointSize),
          description: mismatch.description,
        },
      },
    );
    return AUDIT_VERIFY_EXIT.tampered;
  }
  context.result(
    [
      `entries ${summary.from} to ${summary.to - 1} verified by the audit service in ${summary.pages} page${summary.pages === 1 ? '' : 's'}: ${summary.checkpointsChecked} signed checkpoints matched${mark ? `, the last of ${mark.treeSize} entries (root ${mark.rootHash})` : ''}`,
    ],
    { ok: true, ...summary },
  );
  return AUDIT_VERIFY_EXIT.verified;
}

/** Anything that stopped the check says nothing of the log: exit 3 (a usage error stays 2). */
function couldNotCheck(error: unknown): CliError {
  const failure = toCliError(error);
  if (failure instanceof UsageError) return failure;
  return new CliError(
    `could not check the audit log: ${failure.message}`,
    AUDIT_VERIFY_EXIT.couldNotCheck,
    { cause: error },
  );
}

/** The fields of an entry an operator reads (it is RFC 8785 JSON of the event). */
interface EntrySummary {
  readonly index: number;
  readonly type: string;
  readonly occurredAt: string;
  readonly actor: {
    readonly kind: string;
    readonly principalId: string;
    readonly clientId: string;
  };
  readonly subject: { readonly kind: string; readonly ref: string };
  readonly eventId: string;
}

function summarise(entry: auditV1.LogEntry): EntrySummary {
  const { index, type, occurredAt, actor, subject, eventId } = parseLogEntry(entry);
  return { index, type, occurredAt, actor, subject, eventId };
}

/** An id as text shows it: blind indexes and long ids cut short (the JSON has them whole). */
const short = (id: string) => (id.length > 16 ? `${id.slice(0, 12)}…` : id);

function entryLine(entry: EntrySummary): string {
  const actor = `${entry.actor.kind.replace('ACTOR_KIND_', '').toLowerCase()} ${short(entry.actor.principalId)}`;
  const subject = entry.subject.ref ? ` -> ${short(entry.subject.ref)}` : '';
  return `#${entry.index}  ${entry.occurredAt}  ${entry.type.padEnd(22)} ${actor} via ${entry.actor.clientId}${subject}`;
}

/** Entries [start, end), read as an auditor (page after page). */
async function entriesAsStaff(
  context: CommandContext,
  credentials: StaffCredentials,
  start: number,
  end: number,
): Promise<auditV1.LogEntry[]> {
  const audit = context.operator().audit;
  return context.asStaff(credentials, async (token) => {
    const entries: auditV1.LogEntry[] = [];
    let pageToken = '';
    do {
      const page = await audit.call(
        'getEntries',
        { start: String(start), end: String(end), pageSize: 0, pageToken },
        callAs(token, true),
      );
      entries.push(...page.entries);
      pageToken = page.nextPageToken;
    } while (pageToken);
    return entries;
  });
}

interface ProofOptions extends StaffOptions {
  readonly index?: number;
  readonly size?: number;
  readonly from?: number;
  readonly to?: number;
  readonly verifierKey?: string;
}

async function proofs(context: CommandContext, options: ProofOptions) {
  if (options.size !== undefined && options.index === undefined) {
    throw new UsageError('--size goes with --index');
  }
  if (options.to !== undefined && options.from === undefined) {
    throw new UsageError('--to goes with --from');
  }
  if (options.from !== undefined && options.to !== undefined && options.to < options.from) {
    throw new UsageError('--to must be at least --from');
  }
  if (options.index === undefined && options.from === undefined) {
    throw new UsageError(
      'say what to prove: --index <n> (an entry is in the log) and/or --from <size> (the log only grew since)',
    );
  }
  const verifierKey = verifierKeyOf(context, options);
  const audit = context.operator().audit;
  const text: string[] = [];
  const json: Record<string, unknown> = {};
  const noCheckpoint = (size: string, flag: string) =>
    new CheckFailedError(
      `the log signed no checkpoint of size ${size}, so nothing trustworthy to prove against: use a size it signed (audit verify and audit tail show them)${flag ? `, or leave ${flag} out` : ''}`,
    );

  if (options.index !== undefined) {
    const index = options.index;
    const proof = await audit.call(
      'getInclusionProof',
      { index: String(index), treeSize: String(options.size ?? 0) },
      { idempotent: true },
    );
    if (!proof.signedCheckpoint) throw noCheckpoint(proof.treeSize, '--size');
    const credentials = await staffCredentials(context, options);
    const [entry] = await entriesAsStaff(context, credentials, index, index + 1);
    if (!entry) throw new CheckFailedError(`the log returned no entry ${index}`);
    const checkpoint = auditCheckpoint({
      verifierKey,
      signedCheckpoint: proof.signedCheckpoint,
      inclusion: { leafHash: leafHash(entry.entry), index, proof: proof.hashes },
    });
    const summary = summarise(entry);
    text.push(
      `entry #${index} (${summary.type}, ${summary.occurredAt}, event ${summary.eventId}) is in the log of ${checkpoint.size} entries: an inclusion proof of ${proof.hashes.length} hashes, verified against the checkpoint signed by ${checkpoint.origin} (root ${base64(checkpoint.rootHash)})`,
    );
    json['inclusion'] = {
      index,
      treeSize: checkpoint.size,
      rootHash: base64(checkpoint.rootHash),
      proofHashes: proof.hashes.length,
      leafHash: base64(leafHash(entry.entry)),
      entry: summary,
    };
  }

  if (options.from !== undefined) {
    const from = options.from;
    // The old tree's root must come from a signed checkpoint too: the log's answer for
    // exactly that size (an empty proof) carries it when the log signed one.
    const old = await audit.call(
      'getConsistencyProof',
      { oldSize: String(from), newSize: String(from) },
      { idempotent: true },
    );
    if (!old.signedCheckpoint) throw noCheckpoint(String(from), '');
    const previous = auditCheckpoint({ verifierKey, signedCheckpoint: old.signedCheckpoint });
    const proof = await audit.call(
      'getConsistencyProof',
      { oldSize: String(from), newSize: String(options.to ?? 0) },
      { idempotent: true },
    );
    if (!proof.signedCheckpoint) throw noCheckpoint(proof.newSize, '--to');
    const checkpoint = auditCheckpoint({
      verifierKey,
      signedCheckpoint: proof.signedCheckpoint,
      consistency: { previous, proof: proof.hashes },
    });
    text.push(
      `the log of ${previous.size} entries (root ${base64(previous.rootHash)}) is a prefix of the log of ${checkpoint.size} entries (root ${base64(checkpoint.rootHash)}): a consistency proof of ${proof.hashes.length} hashes, verified against both signed checkpoints`,
    );
    json['consistency'] = {
      oldSize: previous.size,
      oldRootHash: base64(previous.rootHash),
      newSize: checkpoint.size,
      newRootHash: base64(checkpoint.rootHash),
      proofHashes: proof.hashes.length,
    };
  }
  context.result(text, { ok: true, ...json });
}

interface TailOptions extends StaffOptions {
  readonly from?: number;
  readonly count?: number;
  readonly interval: number;
  readonly verifierKey?: string;
}

async function tail(context: CommandContext, options: TailOptions) {
  const verifierKey = verifierKeyOf(context, options);
  const credentials = await staffCredentials(context, options);
  const audit = context.operator().audit;
  const signal = context.io.signal;
  let previous: Checkpoint | undefined;
  let next = options.from;
  let shown = 0;
  if (!context.json) {
    context.note(
      `following the audit log${options.count ? ` for ${options.count} entries` : ' (Ctrl-C stops)'}; each batch is covered by a signed checkpoint consistent with the one before`,
    );
  }
  while (!signal.aborted) {
    const latest = await audit.call('getCheckpoint', {}, { idempotent: true });
    let checkpoint = auditCheckpoint({ verifierKey, signedCheckpoint: latest.signedCheckpoint });
    if (previous && checkpoint.size < previous.size) {
      throw new CheckFailedError(
        `the log shrank from ${previous.size} to ${checkpoint.size} entries`,
      );
    }
    if (previous && previous.size > 0 && checkpoint.size > previous.size) {
      const proof = await audit.call(
        'getConsistencyProof',
        { oldSize: String(previous.size), newSize: String(checkpoint.size) },
        { idempotent: true },
      );
      checkpoint = auditCheckpoint({
        verifierKey,
        signedCheckpoint: latest.signedCheckpoint,
        consistency: { previous, proof: proof.hashes },
      });
    }
    previous = checkpoint;
    next ??= checkpoint.size;
    if (checkpoint.size > next) {
      const wanted =
        options.count === undefined
          ? checkpoint.size
          : Math.min(checkpoint.size, next + options.count - shown);
      for (const entry of await entriesAsStaff(context, credentials, next, wanted)) {
        const summary = summarise(entry);
        context.item(entryLine(summary), summary);
        shown++;
      }
      next = wanted;
    }
    if (options.count !== undefined && shown >= options.count) return;
    await pause(options.interval * 1000, signal);
  }
}

export const auditCommand: CliCommand = {
  register(program: Command, kit) {
    const audit = program
      .command('audit')
      .description('the audit log, checked from outside with nothing but its public key');
    withStaffOptions(
      audit
        .command('verify')
        .description(
          "the audit log checked from outside: the latest checkpoint's signature (and witnesses' cosignatures), no shrink and a consistency proof from the checkpoint verified last time, then every entry new since then downloaded (as an auditor) and hashed here into the signed root; the first bad entry is named",
        )
        .option(
          '--state <file>',
          'the last verified checkpoint, and <file>.leaves the leaf hashes of its entries (default: audit-log.witnessed beside the platform description, as npm start keeps it)',
        )
        .option('--verifier-key <key>', "the log's verifier key (default: the platform's)")
        .option(
          '--witness-key <key>',
          'a witness whose cosignature the checkpoint must carry (repeatable; default: none)',
          (key: string, keys: string[]) => [...keys, key],
          [],
        )
        .option(
          '--full',
          'download and check every entry again, not only those new since the state',
        )
        .addHelpText(
          'after',
          `
Exit codes: ${AUDIT_VERIFY_EXIT.verified} the log verified (the state moved forward); ${AUDIT_VERIFY_EXIT.tampered} the log was tampered with: a bad signature or missing cosignature, a shrink (reported before any proof is asked), a fork, or a bad entry, named (missing, out of place, changed); ${AUDIT_VERIFY_EXIT.couldNotCheck} the log could not be checked (unreachable, refused, no credentials, a damaged state); 2 a usage error.
Without --full an entry changed after an earlier round verified it is caught only by a --full round.`,
        ),
      'auditor',
    ).action(kit.action(verify));
    withStaffOptions(
      audit
        .command('check')
        .description(
          "the audit service's own VerifyLog over a range, a page at a time (each page's progress on stderr): its entries recomputed from storage against the signed checkpoints and the one it kept outside its database; the first mismatch is named",
        )
        .option('--from <index>', 'the first entry to check (default: 0)', wholeNumber(0))
        .option('--to <index>', 'one past the last (default: the end of the log)', wholeNumber(1))
        .option('--newest <n>', 'only the newest n entries (instead of --from)', wholeNumber(1))
        .option(
          '--page-size <n>',
          "entries per call (default and most: the service's page, 10,000)",
          wholeNumber(1),
        )
        .addHelpText(
          'after',
          `
Exit codes: ${AUDIT_VERIFY_EXIT.verified} the range verified; ${AUDIT_VERIFY_EXIT.tampered} the service named a mismatch (and raised a LOG_TAMPERED alert); ${AUDIT_VERIFY_EXIT.couldNotCheck} it could not be checked; 2 a usage error. It trusts the audit service; audit verify trusts only the log's public key.`,
        ),
      'auditor',
    ).action(kit.action(check));
    withStaffOptions(
      audit
        .command('proofs')
        .description(
          'prove an entry is in the log (inclusion) and/or that the log only grew between two sizes (consistency), verified locally',
        )
        .option(
          '--index <n>',
          'the entry to prove (its bytes are read as an auditor)',
          wholeNumber(0),
        )
        .option(
          '--size <n>',
          'the tree to prove it in (default: the latest checkpoint)',
          wholeNumber(1),
        )
        .option(
          '--from <size>',
          'the older tree: a size the log signed a checkpoint of',
          wholeNumber(1),
        )
        .option('--to <size>', 'the newer tree (default: the latest checkpoint)', wholeNumber(1))
        .option('--verifier-key <key>', "the log's verifier key (default: the platform's)"),
      'auditor',
    ).action(kit.action(proofs));
    withStaffOptions(
      audit
        .command('tail')
        .description('follow new entries as the log signs them (an auditor reads them)')
        .option(
          '--from <index>',
          'start at this entry (default: the end of the log)',
          wholeNumber(0),
        )
        .option('--count <n>', 'stop after this many entries', wholeNumber(1))
        .option('--interval <seconds>', 'how often to look for new entries', seconds, 1)
        .option('--verifier-key <key>', "the log's verifier key (default: the platform's)"),
      'auditor',
    ).action(kit.action(tail));
  },
};
