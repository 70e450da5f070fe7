// The client side of c2sp.org/tlog-witness: POST <witness>/add-checkpoint with the
// size of the tree the witness last cosigned, a consistency proof from there, and the
// log's signed checkpoint; the answer is the witness's cosignature line(s).
import {
  HASH_SIZE,
  parseCosignatureVerifierKey,
  verifyCosignatures,
  type Cosignature,
} from '@vaxguard/tlog';
import {
  WitnessBadRequestError,
  WitnessConflictError,
  WitnessCosignatureError,
  WitnessInconsistentError,
  WitnessRefusedError,
  WitnessResponseError,
  WitnessUnreachableError,
} from './errors';

/** litewitness answers within milliseconds; a witness that takes this long is down. */
export const ADD_CHECKPOINT_TIMEOUT_MS = 10_000;
/** litewitness refuses bodies above 10 KiB; a checkpoint and a 63-hash proof fit in 4. */
const MAX_RESPONSE_CHARS = 64 * 1024;

export interface AddCheckpointRequest {
  /** The size of the tree the witness last cosigned for this log (0 the first time). */
  readonly oldSize: number;
  /** RFC 6962 consistency proof from `oldSize` to the checkpoint's size; empty from 0. */
  readonly consistencyProof: readonly Uint8Array[];
  /** The log's signed checkpoint note (c2sp.org/tlog-checkpoint), as the log publishes it. */
  readonly checkpoint: string;
}

export interface AddCheckpointOptions {
  readonly signal?: AbortSignal;
  /** Default ADD_CHECKPOINT_TIMEOUT_MS. */
  readonly timeoutMs?: number;
}

/**
 * The request body: `old <size>`, one base64 proof hash per line, a blank line, then
 * the signed checkpoint.
 */
export function formatAddCheckpointBody(request: AddCheckpointRequest): string {
  const { oldSize, consistencyProof, checkpoint } = request;
  if (!Number.isSafeInteger(oldSize) || oldSize < 0) {
    throw new RangeError(`old size must be a non-negative integer, got ${oldSize}`);
  }
  if (consistencyProof.some((hash) => hash.length !== HASH_SIZE)) {
    throw new RangeError(`every proof hash is ${HASH_SIZE} bytes`);
  }
  if (!checkpoint.endsWith('\n')) throw new RangeError('a signed checkpoint ends in a newline');
  const proof = consistencyProof.map((hash) => `${Buffer.from(hash).toString('base64')}\n`);
  return `old ${oldSize}\n${proof.join('')}\n${checkpoint}`;
}

/**
 * Submits a checkpoint to a witness (`url` is its submission prefix, e.g.
 * http://127.0.0.1:7380) and returns its cosignature lines, each ending in a newline,
 * to append to the signed checkpoint. Throws a WitnessError saying why not.
 */
export async function addCheckpoint(
  url: string,
  request: AddCheckpointRequest,
  options: AddCheckpointOptions = {},
): Promise<string> {
  const body = formatAddCheckpointBody(request);
  const timeout = AbortSignal.timeout(options.timeoutMs ?? ADD_CHECKPOINT_TIMEOUT_MS);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let status: number;
  let text: string;
  try {
    const response = await fetch(`${url.replace(/\/+$/, '')}/add-checkpoint`, {
      method: 'POST',
      body,
      signal,
    });
    status = response.status;
    text = await response.text();
  } catch (cause) {
    throw new WitnessUnreachableError(`the witness at ${url} did not answer`, { cause });
  }
  if (status === 200) return cosignatureLines(text, status);
  const said = text.trim().slice(0, 200);
  switch (status) {
    case 409:
      throw new WitnessConflictError(knownSize(text, status), status);
    case 422:
      throw new WitnessInconsistentError(`the witness refused the consistency proof: ${said}`, {
        status,
      });
    case 403:
    case 404:
      throw new WitnessRefusedError(`the witness refused the checkpoint (${status}): ${said}`, {
        status,
      });
    case 400:
      throw new WitnessBadRequestError(`the witness could not read the request: ${said}`, {
        status,
      });
    default:
      throw new WitnessResponseError(`the witness answered ${status}: ${said}`, { status });
  }
}

/**
 * Checks that `cosignatureLines` hold a cosignature of `checkpoint` by the witness whose
 * verifier key is `witnessKey`, and returns it with its time.
 */
export function verifyWitnessCosignature(
  checkpoint: string,
  cosignatureLines: string,
  witnessKey: string,
): Cosignature {
  try {
    const [cosignature] = verifyCosignatures(`${checkpoint}${cosignatureLines}`, [
      parseCosignatureVerifierKey(witnessKey),
    ]);
    if (cosignature) return cosignature;
  } catch (cause) {
    throw new WitnessCosignatureError('the witness cosignature does not verify', { cause });
  }
  throw new WitnessCosignatureError('the witness did not cosign');
}

/** A 409's body is the witness's size for the log, in decimal (text/x.tlog.size). */
function knownSize(text: string, status: number): number {
  const size = Number(text.trimEnd());
  if (!/^(?:0|[1-9][0-9]*)\n?$/.test(text) || !Number.isSafeInteger(size)) {
    throw new WitnessResponseError('a 409 from the witness did not hold its known size', {
      status,
    });
  }
  return size;
}

/** The answer to a cosigned checkpoint: signature lines, each `— <name> <base64>\n`. */
function cosignatureLines(text: string, status: number): string {
  const wellFormed =
    text.length > 0 &&
    text.length <= MAX_RESPONSE_CHARS &&
    text.endsWith('\n') &&
    text
      .slice(0, -1)
      .split('\n')
      .every((line) => /^\u2014 [^\s+]+ [A-Za-z0-9+/]+=*$/u.test(line));
  if (!wellFormed) {
    throw new WitnessResponseError('the witness answered with no cosignature lines', { status });
  }
  return text;
}
