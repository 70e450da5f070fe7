// The auditor's console checks the log in the browser, trusting nothing the web tier says:
// an entry's inclusion proof up to the latest signed checkpoint, and an earlier checkpoint
// the auditor saved against the current one (consistency). SHA-256 and Ed25519 come from
// WebCrypto; the proof and note code is libs/tlog's portable part. The page renders the
// boxes (data-proof-check) with their messages; this script fills in the outcome.
import {
  checkConsistency,
  checkInclusion,
  decodeBase64Strict,
  parseCheckpoint,
  parseNote,
  type ProofCheckResult,
  type SubtleCryptoLike,
  WebLogVerifier,
} from '@vaxguard/tlog-portable';
import {
  type ConsistencyPayload,
  type InclusionPayload,
  type PendingPayload,
  PINNED_KEY_STORAGE,
  SAVED_CHECKPOINT_STORAGE,
} from '../auditor/proof-payload';

type Outcome = 'checking' | 'verified' | 'failed' | 'pending' | 'saved' | 'error';

const subtle = (): SubtleCryptoLike => crypto.subtle as unknown as SubtleCryptoLike;

function bytes(base64: string): Uint8Array {
  const decoded = decodeBase64Strict(base64);
  if (decoded === undefined) throw new Error('the server sent a value that is not base64');
  return decoded;
}

/** A message the page put on the box (`data-msg-<name>`), in the page's language. */
function message(box: HTMLElement, name: string): string {
  return box.getAttribute(`data-msg-${name}`) ?? name;
}

function show(box: HTMLElement, outcome: Outcome, lines: readonly string[]): void {
  box.setAttribute('data-outcome', outcome);
  const status = box.querySelector<HTMLElement>('[data-proof-status]');
  const detail = box.querySelector<HTMLElement>('[data-proof-detail]');
  if (status) status.textContent = lines[0] ?? '';
  if (detail) detail.textContent = lines.slice(1).join('\n');
}

function storage(): Storage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}

/** The key the auditor pinned, else the one the log publishes (said which on the page). */
function trustedKey(box: HTMLElement, served: string): { key: string; note: string } {
  const pinned = storage()?.getItem(PINNED_KEY_STORAGE) ?? undefined;
  // `<name>+<key ID>`: the key's public name, what an auditor compares with the log's.
  const name = (key: string) => key.split('+').slice(0, 2).join('+');
  return pinned
    ? { key: pinned, note: `${message(box, 'key-pinned')} ${name(pinned)}` }
    : { key: served, note: `${message(box, 'key-served')} (${name(served)})` };
}

async function fetchJson<T>(url: string): Promise<T> {
  const response = await fetch(url, {
    credentials: 'same-origin',
    headers: { accept: 'application/json' },
  });
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
  return (await response.json()) as T;
}

function report(box: HTMLElement, result: ProofCheckResult, keyNote: string): void {
  if (result.verified) {
    const { origin, size } = result.checkpoint;
    show(box, 'verified', [
      message(box, 'verified'),
      `${origin} · ${message(box, 'tree-size')} ${size}`,
      keyNote,
    ]);
  } else {
    show(box, 'failed', [
      `${message(box, 'not-verified')}: ${message(box, `failure-${result.failure}`)}`,
      result.detail,
      keyNote,
    ]);
  }
}

async function checkEntry(box: HTMLElement): Promise<void> {
  show(box, 'checking', [message(box, 'checking')]);
  const payload = await fetchJson<InclusionPayload | PendingPayload>(box.dataset.source ?? '');
  if ('pending' in payload) {
    show(box, 'pending', [message(box, 'pending')]);
    return;
  }
  const { key, note } = trustedKey(box, payload.verifierKey);
  const result = await checkInclusion(
    {
      verifierKey: key,
      signedCheckpoint: payload.signedCheckpoint,
      index: payload.index,
      entry: bytes(payload.entry),
      proof: payload.proof.map(bytes),
    },
    subtle(),
  );
  report(box, result, note);
}

/** A pasted note keeps its final newline, which text areas and copying tend to drop. */
function noteText(text: string): string {
  const trimmed = text.replace(/\r\n/g, '\n').replace(/\s+$/, '');
  return `${trimmed}\n`;
}

async function checkSaved(box: HTMLElement, saved: HTMLTextAreaElement): Promise<void> {
  show(box, 'checking', [message(box, 'checking')]);
  const previous = noteText(saved.value);
  let fromSize: number;
  try {
    fromSize = parseCheckpoint(parseNote(previous).text).size;
  } catch (error) {
    show(box, 'failed', [
      `${message(box, 'not-verified')}: ${message(box, 'failure-CHECKPOINT_FORMAT')}`,
      error instanceof Error ? error.message : String(error),
    ]);
    return;
  }
  const source = `${box.dataset.source ?? ''}?from=${fromSize}`;
  const payload = await fetchJson<ConsistencyPayload>(source);
  const { key, note } = trustedKey(box, payload.verifierKey);
  const result = await checkConsistency(
    {
      verifierKey: key,
      previousCheckpoint: previous,
      signedCheckpoint: payload.signedCheckpoint,
      proof: payload.proof.map(bytes),
    },
    subtle(),
  );
  report(box, result, note);
}

/** Saves the current checkpoint (once its signature holds) and pins the key if none is. */
async function saveCurrent(box: HTMLElement, saved: HTMLTextAreaElement): Promise<void> {
  show(box, 'checking', [message(box, 'checking')]);
  const payload = await fetchJson<ConsistencyPayload>(`${box.dataset.source ?? ''}?from=0`);
  const { key, note } = trustedKey(box, payload.verifierKey);
  const result = await checkConsistency(
    {
      verifierKey: key,
      previousCheckpoint: payload.signedCheckpoint,
      signedCheckpoint: payload.signedCheckpoint,
      proof: [],
    },
    subtle(),
  );
  if (!result.verified) {
    report(box, result, note);
    return;
  }
  const store = storage();
  store?.setItem(SAVED_CHECKPOINT_STORAGE, payload.signedCheckpoint);
  if (!store?.getItem(PINNED_KEY_STORAGE)) store?.setItem(PINNED_KEY_STORAGE, key);
  saved.value = payload.signedCheckpoint;
  const verifier = await WebLogVerifier.create(key, subtle());
  show(box, 'saved', [
    message(box, 'saved'),
    `${result.checkpoint.origin} · ${message(box, 'tree-size')} ${result.checkpoint.size}`,
    `${message(box, 'key-pinned')} ${verifier.keyName}`,
  ]);
}

function guarded(box: HTMLElement, run: () => Promise<void>): void {
  run().catch((error: unknown) => {
    show(box, 'error', [
      message(box, 'error'),
      error instanceof Error ? error.message : String(error),
    ]);
  });
}

function start(): void {
  const boxes = (kind: string) =>
    Array.from(document.querySelectorAll<HTMLElement>(`[data-proof-check="${kind}"]`));
  for (const box of boxes('inclusion')) {
    guarded(box, () => checkEntry(box));
  }
  for (const box of boxes('consistency')) {
    const saved = document.querySelector<HTMLTextAreaElement>('#saved-checkpoint');
    if (!saved) continue;
    if (saved.value.trim() === '') saved.value = storage()?.getItem(SAVED_CHECKPOINT_STORAGE) ?? '';
    for (const button of Array.from(
      box.querySelectorAll<HTMLButtonElement>('button[data-action]'),
    )) {
      button.hidden = false;
      button.addEventListener('click', () => {
        const action = button.dataset.action;
        guarded(box, () => (action === 'save' ? saveCurrent(box, saved) : checkSaved(box, saved)));
      });
    }
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
