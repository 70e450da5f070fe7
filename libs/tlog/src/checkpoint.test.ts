import { describe, expect, it } from 'vitest';
import {
  formatCheckpoint,
  openCheckpoint,
  parseCheckpoint,
  signCheckpoint,
  type Checkpoint,
} from './checkpoint';
import { CheckpointOriginError, MalformedCheckpointError, UnverifiedNoteError } from './errors';
import { generateSignerKey, parseSignerKey, parseVerifierKey } from './note-keys';
import { ROOTS } from './testdata/rfc6962';

const ORIGIN = 'audit.vaxguard.example/log';
const ROOT_8 = ROOTS[8]!;
const ROOT_8_BASE64 = Buffer.from(ROOT_8).toString('base64');

describe('checkpoint text', () => {
  it('formats origin, decimal size and base64 root, each line ending in a newline', () => {
    expect(formatCheckpoint({ origin: ORIGIN, size: 8, rootHash: ROOT_8 })).toBe(
      `${ORIGIN}\n8\n${ROOT_8_BASE64}\n`,
    );
  });

  it('parses what it formats, extension lines included', () => {
    const checkpoint: Checkpoint = {
      origin: ORIGIN,
      size: 20852163,
      rootHash: ROOT_8,
      extensions: ['timestamp 1700000000'],
    };
    const parsed = parseCheckpoint(formatCheckpoint(checkpoint));
    expect({ ...parsed, rootHash: Buffer.from(parsed.rootHash) }).toEqual({
      ...checkpoint,
      rootHash: Buffer.from(ROOT_8),
    });
  });

  it('reads the C2SP example body', () => {
    const parsed = parseCheckpoint(
      'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n',
    );
    expect(parsed.origin).toBe('example.com/behind-the-sofa');
    expect(parsed.size).toBe(20852163);
    expect(parsed.rootHash).toHaveLength(32);
  });

  it.each([
    ['no final newline', `${ORIGIN}\n8\n${ROOT_8_BASE64}`],
    ['two lines', `${ORIGIN}\n8\n`],
    ['an empty origin', `\n8\n${ROOT_8_BASE64}\n`],
    ['a leading zero', `${ORIGIN}\n08\n${ROOT_8_BASE64}\n`],
    ['a negative size', `${ORIGIN}\n-1\n${ROOT_8_BASE64}\n`],
    ['a size past 2^53', `${ORIGIN}\n9007199254740993\n${ROOT_8_BASE64}\n`],
    ['a size with a plus sign', `${ORIGIN}\n+8\n${ROOT_8_BASE64}\n`],
    ['a root of 31 bytes', `${ORIGIN}\n8\n${Buffer.alloc(31).toString('base64')}\n`],
    ['a root in base64url', `${ORIGIN}\n8\n${Buffer.from(ROOT_8).toString('base64url')}\n`],
    ['an empty extension line', `${ORIGIN}\n8\n${ROOT_8_BASE64}\n\n`],
    ['a carriage return', `${ORIGIN}\r\n8\n${ROOT_8_BASE64}\n`],
  ])('refuses a body with %s', (_, text) => {
    expect(() => parseCheckpoint(text)).toThrow(MalformedCheckpointError);
  });

  it('refuses to format a checkpoint that could not be parsed back', () => {
    expect(() => formatCheckpoint({ origin: 'a\nb', size: 1, rootHash: ROOT_8 })).toThrow(
      MalformedCheckpointError,
    );
    expect(() => formatCheckpoint({ origin: ORIGIN, size: 1.5, rootHash: ROOT_8 })).toThrow(
      MalformedCheckpointError,
    );
    expect(() =>
      formatCheckpoint({ origin: ORIGIN, size: 1, rootHash: ROOT_8, extensions: [''] }),
    ).toThrow(MalformedCheckpointError);
  });
});

describe('signed checkpoints', () => {
  const keys = generateSignerKey(ORIGIN);
  const signer = parseSignerKey(keys.signerKey);
  const verifier = parseVerifierKey(keys.verifierKey);
  const signed = signCheckpoint({ origin: ORIGIN, size: 8, rootHash: ROOT_8 }, [signer]);

  it('opens a checkpoint signed by the log key, for the expected origin', () => {
    const { checkpoint, verifiedBy } = openCheckpoint(signed, [verifier], ORIGIN);
    expect(checkpoint.size).toBe(8);
    expect(Buffer.from(checkpoint.rootHash).equals(ROOT_8)).toBe(true);
    expect(verifiedBy).toEqual([{ name: ORIGIN, keyId: verifier.keyId }]);
  });

  it('refuses a checkpoint of another log signed by the same key', () => {
    const other = signCheckpoint({ origin: 'other.example/log', size: 8, rootHash: ROOT_8 }, [
      signer,
    ]);
    expect(() => openCheckpoint(other, [verifier], ORIGIN)).toThrow(CheckpointOriginError);
  });

  it('refuses a checkpoint signed by another key of the same name', () => {
    const impostor = parseSignerKey(generateSignerKey(ORIGIN).signerKey);
    const forged = signCheckpoint({ origin: ORIGIN, size: 9, rootHash: ROOT_8 }, [impostor]);
    expect(() => openCheckpoint(forged, [verifier], ORIGIN)).toThrow(UnverifiedNoteError);
  });
});
