import { describe, expect, it } from 'vitest';
import {
  InvalidSignatureError,
  MalformedNoteError,
  NoteKeyError,
  UnverifiedNoteError,
} from './errors';
import { generateSignerKey, parseSignerKey, parseVerifierKey } from './note-keys';
import { openNote, signNote } from './signed-note';

// golang.org/x/mod/sumdb/note's TestSign: Ed25519 is deterministic, so bytes must match.
const GO_SIGNER_KEY =
  'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_TEXT =
  'If you think cryptography is the answer to your problem,\n' +
  "then you don't know what your problem is.\n";
const GO_SIGNED =
  GO_TEXT +
  '\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';

// The example of c2sp.org/signed-note.
const C2SP_VERIFIER_KEY = 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k';
const C2SP_NOTE =
  'This is an example message.\n\n' +
  '— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n';

const goSigner = parseSignerKey(GO_SIGNER_KEY);
const goVerifier = parseVerifierKey(goSigner.verifierKey);

describe('signNote', () => {
  it('signs exactly as golang.org/x/mod/sumdb/note does', () => {
    expect(signNote(GO_TEXT, [goSigner])).toBe(GO_SIGNED);
  });

  it('refuses text without a final newline or with a control character', () => {
    expect(() => signNote('no newline', [goSigner])).toThrow(MalformedNoteError);
    expect(() => signNote('a\tb\n', [goSigner])).toThrow(MalformedNoteError);
    expect(() => signNote('ok\n', [])).toThrow(NoteKeyError);
  });
});

describe('openNote', () => {
  it('opens the c2sp.org/signed-note example with its verifier key', () => {
    const opened = openNote(C2SP_NOTE, [parseVerifierKey(C2SP_VERIFIER_KEY)]);
    expect(opened.text).toBe('This is an example message.\n');
    expect(opened.verifiedBy).toEqual([{ name: 'example.com/foo', keyId: 0x530d903a }]);
  });

  it('opens bytes as well as strings', () => {
    expect(openNote(Buffer.from(GO_SIGNED), [goVerifier]).text).toBe(GO_TEXT);
  });

  it('ignores signatures from unknown keys and names them', () => {
    const witness = parseSignerKey(generateSignerKey('witness.example').signerKey);
    const opened = openNote(signNote(GO_TEXT, [witness, goSigner]), [goVerifier]);
    expect(opened.verifiedBy).toEqual([{ name: 'PeterNeumann', keyId: 0xc74f20a3 }]);
    expect(opened.unknownSignatures).toEqual([{ name: 'witness.example', keyId: witness.keyId }]);
  });

  it('reports every trusted key that signed', () => {
    const second = parseSignerKey(generateSignerKey('second.example').signerKey);
    const opened = openNote(signNote(GO_TEXT, [goSigner, second]), [
      goVerifier,
      parseVerifierKey(second.verifierKey),
    ]);
    expect(opened.verifiedBy.map((signature) => signature.name)).toEqual([
      'PeterNeumann',
      'second.example',
    ]);
  });

  it('rejects a note signed by no trusted key', () => {
    expect(() => openNote(GO_SIGNED, [parseVerifierKey(C2SP_VERIFIER_KEY)])).toThrow(
      UnverifiedNoteError,
    );
  });

  it('rejects the whole note when a trusted key signature does not verify', () => {
    expect(() => openNote(GO_SIGNED.replace('problem,', 'problem;'), [goVerifier])).toThrow(
      InvalidSignatureError,
    );
    // A key with the right name and ID but another key does not pass either.
    const impostor = signNote(GO_TEXT, [
      { ...parseSignerKey(generateSignerKey('PeterNeumann').signerKey), keyId: 0xc74f20a3 },
    ]);
    expect(() => openNote(impostor, [goVerifier])).toThrow(InvalidSignatureError);
  });

  it.each([
    ['no blank line before the signatures', GO_SIGNED.replace('\n\n—', '\n—')],
    ['no final newline', GO_SIGNED.slice(0, -1)],
    ['a hyphen for the em dash', GO_SIGNED.replace('—', '-')],
    ['a signature that is not base64', GO_SIGNED.replace('x08go/', 'x08go!')],
    ['a signature line without a signature', `${GO_TEXT}\n— PeterNeumann\n`],
    ['a tab in the text', GO_SIGNED.replace('If you', 'If\tyou')],
    ['a lone surrogate', GO_SIGNED.replace('If', '\uD800f')],
    ['an empty signature block', `${GO_TEXT}\n`],
  ])('rejects a note with %s as malformed', (_, note) => {
    expect(() => openNote(note, [goVerifier])).toThrow(MalformedNoteError);
  });

  it('rejects bytes that are not UTF-8 as malformed', () => {
    const bytes = Buffer.concat([Buffer.from([0xff]), Buffer.from(GO_SIGNED)]);
    expect(() => openNote(bytes, [goVerifier])).toThrow(MalformedNoteError);
  });

  it('rejects more than 100 signatures', () => {
    const line = GO_SIGNED.slice(GO_TEXT.length + 1);
    expect(() => openNote(`${GO_TEXT}\n${line.repeat(101)}`, [goVerifier])).toThrow(
      MalformedNoteError,
    );
  });

  it('refuses two trusted keys with the same name and key ID', () => {
    expect(() => openNote(GO_SIGNED, [goVerifier, goVerifier])).toThrow(NoteKeyError);
  });
});
