import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openCheckpoint, signCheckpoint } from './checkpoint';
import {
  cosignedMessage,
  createCosignatureSigner,
  formatCosignatureVerifierKey,
  parseCosignatureVerifierKey,
  verifyCosignatures,
} from './cosignature';
import {
  InvalidSignatureError,
  MalformedCheckpointError,
  NoteKeyError,
  UnverifiedNoteError,
} from './errors';
import { generateSignerKey, parseSignerKey, parseVerifierKey } from './note-keys';
import { signNote } from './signed-note';

// Made with filippo.io/torchwood v0.6.1 (the library litewitness signs with):
// NewCosignatureSigner("witness.example/w1", ed25519.NewKeyFromSeed(01 02 … 20)) and
// note.Sign of this checkpoint, at 1796651402.
const TORCHWOOD_WITNESS_KEY =
  'witness.example/w1+468d99bb+BHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk';
const TORCHWOOD_CHECKPOINT = 'example.com/log\n5\nQrtXrQZCCvpIgsSmOsah7HdICzMLLyDfxToMql9WTjY=\n';
const TORCHWOOD_COSIGNATURE =
  '— witness.example/w1 Ro2ZuwAAAABrFrmKhwOM6NWUC3ramB0ROCXoNJSwyA2X958iotKFmUndqp9X2ysLvgwatoXL4l6dIpEWeKGApAbEUtbaG75SPaSkCQ==\n';
const TORCHWOOD_NOTE = `${TORCHWOOD_CHECKPOINT}\n${TORCHWOOD_COSIGNATURE}`;

const LOG = 'audit.vaxguard.example/log';
const ROOT = new Uint8Array(32).fill(7);

describe('cosignature/v1 verifier keys', () => {
  it('reads the verifier key torchwood prints for a witness', () => {
    const verifier = parseCosignatureVerifierKey(TORCHWOOD_WITNESS_KEY);
    expect(verifier.name).toBe('witness.example/w1');
    expect(verifier.keyId).toBe(0x468d99bb);
  });

  it('formats the key from the name and the raw Ed25519 public key as torchwood does', () => {
    const publicKey = Buffer.from(
      TORCHWOOD_WITNESS_KEY.split('+').slice(2).join('+'),
      'base64',
    ).subarray(1);
    expect(formatCosignatureVerifierKey('witness.example/w1', publicKey)).toBe(
      TORCHWOOD_WITNESS_KEY,
    );
  });

  it('refuses a log key (type 0x01) as a witness key, and a witness key as a log key', () => {
    const logKey = generateSignerKey(LOG).verifierKey;
    expect(() => parseCosignatureVerifierKey(logKey)).toThrow(NoteKeyError);
    expect(() => parseVerifierKey(TORCHWOOD_WITNESS_KEY)).toThrow(NoteKeyError);
  });

  it('refuses a witness key whose key ID is not that of type 0x04', () => {
    expect(() =>
      parseCosignatureVerifierKey(TORCHWOOD_WITNESS_KEY.replace('+468d99bb+', '+468d99bc+')),
    ).toThrow(NoteKeyError);
  });
});

describe('verifyCosignatures', () => {
  it("verifies torchwood's cosignature and reads its time", () => {
    const verifier = parseCosignatureVerifierKey(TORCHWOOD_WITNESS_KEY);
    expect(verifyCosignatures(TORCHWOOD_NOTE, [verifier])).toEqual([
      { name: 'witness.example/w1', keyId: 0x468d99bb, timestamp: 1796651402 },
    ]);
  });

  it('rejects the cosignature on another checkpoint or with another time', () => {
    const verifier = parseCosignatureVerifierKey(TORCHWOOD_WITNESS_KEY);
    const otherSize = TORCHWOOD_NOTE.replace('\n5\n', '\n6\n');
    expect(() => verifyCosignatures(otherSize, [verifier])).toThrow(InvalidSignatureError);
    // The time is the 8 bytes after the key ID: change its last byte.
    const [, base64] = TORCHWOOD_COSIGNATURE.trimEnd().split(' ', 3).slice(1);
    const raw = Buffer.from(base64 as string, 'base64');
    raw[11] = (raw[11] as number) ^ 1;
    const otherTime = TORCHWOOD_NOTE.replace(base64 as string, raw.toString('base64'));
    expect(() => verifyCosignatures(otherTime, [verifier])).toThrow(InvalidSignatureError);
  });

  it('finds no cosignature of a witness key that did not sign', () => {
    const another = createCosignatureSigner('witness.example/w1');
    expect(() =>
      verifyCosignatures(TORCHWOOD_NOTE, [parseCosignatureVerifierKey(another.verifierKey)]),
    ).toThrow(UnverifiedNoteError);
  });

  it("reads the log's checkpoint and its witnesses' cosignatures from one note", () => {
    const log = parseSignerKey(generateSignerKey(LOG).signerKey);
    const witnessA = createCosignatureSigner('witness.example/a', { now: () => 1_700_000_000 });
    const witnessB = createCosignatureSigner('witness.example/b', { now: () => 1_700_000_060 });
    const checkpoint = { origin: LOG, size: 12, rootHash: ROOT };
    const signed = signCheckpoint(checkpoint, [log]);
    const text = signed.slice(0, signed.indexOf('\n\n') + 1);
    const cosignatures = [witnessA, witnessB].map((witness) => {
      const note = signNote(text, [witness]);
      return note.slice(note.indexOf('\n\n') + 2);
    });
    const cosigned = `${signed}${cosignatures.join('')}`;

    // The log's key alone still opens it; the cosignatures are unknown signatures to it.
    const opened = openCheckpoint(cosigned, [parseVerifierKey(log.verifierKey)], LOG);
    expect(opened.checkpoint.size).toBe(12);
    expect(
      verifyCosignatures(cosigned, [
        parseCosignatureVerifierKey(witnessA.verifierKey),
        parseCosignatureVerifierKey(witnessB.verifierKey),
      ]),
    ).toEqual([
      { name: 'witness.example/a', keyId: witnessA.keyId, timestamp: 1_700_000_000 },
      { name: 'witness.example/b', keyId: witnessB.keyId, timestamp: 1_700_000_060 },
    ]);
  });

  it('refuses to cosign, and does not accept a cosignature on, text that is not a checkpoint', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const witness = createCosignatureSigner('witness.example/a', { privateKey });
    expect(() => signNote('not a checkpoint\n', [witness])).toThrow(MalformedCheckpointError);
    // The witness's key did sign the cosignature message over this text, correctly.
    const text = 'not a checkpoint\n';
    const time = Buffer.alloc(8);
    time.writeBigUInt64BE(1_700_000_000n);
    const signature = sign(null, cosignedMessage(1_700_000_000, text), privateKey);
    const verifier = parseCosignatureVerifierKey(witness.verifierKey);
    expect(verifier.verify(Buffer.from(text), Buffer.concat([time, signature]))).toBe(false);
  });
});
