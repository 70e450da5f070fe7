import { describe, expect, it } from 'vitest';
import { NoteKeyError } from './errors';
import {
  ed25519KeyId,
  formatVerifierKey,
  generateSignerKey,
  isValidKeyName,
  parseSignerKey,
  parseVerifierKey,
} from './note-keys';

// The key pair of golang.org/x/mod/sumdb/note's own tests.
const GO_SIGNER_KEY =
  'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_VERIFIER_KEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';

describe('verifier keys', () => {
  it('reads the key ID and name of a Go verifier key', () => {
    const verifier = parseVerifierKey(GO_VERIFIER_KEY);
    expect(verifier.name).toBe('PeterNeumann');
    expect(verifier.keyId).toBe(0xc74f20a3);
  });

  it('derives the key ID as SHA-256(name ‖ \\n ‖ 0x01 ‖ key)[:4] and round-trips the string', () => {
    const publicKey = Buffer.from(
      'ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW',
      'base64',
    ).subarray(1);
    expect(ed25519KeyId('PeterNeumann', publicKey)).toBe(0xc74f20a3);
    expect(formatVerifierKey('PeterNeumann', publicKey)).toBe(GO_VERIFIER_KEY);
  });

  it('refuses every truncation and every one-character change of a verifier key', () => {
    let accepted = 0;
    for (let i = 0; i < GO_VERIFIER_KEY.length; i++) {
      const truncated = GO_VERIFIER_KEY.slice(0, i);
      const changed =
        GO_VERIFIER_KEY.slice(0, i) +
        String.fromCharCode(GO_VERIFIER_KEY.charCodeAt(i) + 1) +
        GO_VERIFIER_KEY.slice(i + 1);
      for (const key of [truncated, changed]) {
        try {
          parseVerifierKey(key);
          accepted++;
        } catch (error) {
          expect(error).toBeInstanceOf(NoteKeyError);
        }
      }
    }
    expect(accepted).toBe(0);
  });

  it('refuses another signature type and a key of the wrong length, even with a matching ID', () => {
    expect(() =>
      parseVerifierKey('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'),
    ).toThrow(NoteKeyError);
    expect(() =>
      parseVerifierKey(
        'PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==',
      ),
    ).toThrow(NoteKeyError);
  });
});

describe('signer keys', () => {
  it('reads a Go signer key and gives the matching verifier key', () => {
    const signer = parseSignerKey(GO_SIGNER_KEY);
    expect(signer.name).toBe('PeterNeumann');
    expect(signer.keyId).toBe(0xc74f20a3);
    expect(signer.verifierKey).toBe(GO_VERIFIER_KEY);
  });

  it('refuses a signer key with a wrong key ID or without the PRIVATE+KEY prefix', () => {
    expect(() => parseSignerKey(GO_SIGNER_KEY.replace('c74f20a3', 'c74f20a4'))).toThrow(
      NoteKeyError,
    );
    expect(() => parseSignerKey(GO_SIGNER_KEY.replace('PRIVATE+KEY+', ''))).toThrow(NoteKeyError);
  });

  it('does not repeat the secret key in its error message', () => {
    const broken = GO_SIGNER_KEY.replace('c74f20a3', 'zzzzzzzz');
    const message = (() => {
      try {
        parseSignerKey(broken);
        return 'accepted';
      } catch (error) {
        return error instanceof NoteKeyError ? error.message : 'another error';
      }
    })();
    expect(message).toMatch(/key ID/);
    expect(message).not.toContain('AYEKFALV');
  });

  it('generates a key pair whose signatures its verifier key accepts, and only those', () => {
    const { signerKey, verifierKey } = generateSignerKey('audit.vaxguard.example/log');
    const signer = parseSignerKey(signerKey);
    const verifier = parseVerifierKey(verifierKey);
    expect(signer.verifierKey).toBe(verifierKey);
    const text = Buffer.from('hello\n');
    const signature = signer.sign(text);
    expect(verifier.verify(text, signature)).toBe(true);
    expect(verifier.verify(Buffer.from('hellO\n'), signature)).toBe(false);
    const other = parseVerifierKey(generateSignerKey('audit.vaxguard.example/log').verifierKey);
    expect(other.verify(text, signature)).toBe(false);
  });
});

describe('key names', () => {
  it('allows URL-like names and refuses empty ones, Unicode spaces and plus', () => {
    expect(isValidKeyName('example.com/log42')).toBe(true);
    expect(['', 'a b', 'a+b', 'a\u00a0b', 'a\u2028b', 'a\tb'].map(isValidKeyName)).toEqual(
      Array(6).fill(false),
    );
  });
});
