import { describe, expect, it } from 'vitest';
import { parseCosignatureVerifierKey } from '@vaxguard/tlog';
import { parseSshEd25519PublicKey, witnessVerifierKey } from './ssh-key';

// Made by `ssh-keygen -t ed25519 -C witness.example`; `ssh-keygen -lf` printed the fingerprint.
const PUBLIC_KEY_LINE =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEXVGhTTdE4KZlvAYuLSGlC2kOZjBVKc1j039KOFVspY witness.example\n';
const FINGERPRINT = 'SHA256:l+qk83LvS2an30Z4tzoZ5KKWu0JZCmqouLDGgEW4LRw';

describe('OpenSSH Ed25519 public keys', () => {
  it('gives the fingerprint ssh-keygen prints, and the raw key after the wire header', () => {
    const key = parseSshEd25519PublicKey(PUBLIC_KEY_LINE);
    expect(key.fingerprint).toBe(FINGERPRINT);
    expect(Buffer.from(key.publicKey).toString('hex')).toBe(
      Buffer.from(PUBLIC_KEY_LINE.split(' ')[1] as string, 'base64')
        .subarray(-32)
        .toString('hex'),
    );
  });

  it('refuses another key type and a truncated key', () => {
    expect(() =>
      parseSshEd25519PublicKey('ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDAbDAlaHU2 x'),
    ).toThrow();
    expect(() =>
      parseSshEd25519PublicKey(
        'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEXVGhTTdE4KZlvAYuLSGlC2kOZjBVKc',
      ),
    ).toThrow();
  });

  it("makes the witness's cosignature/v1 verifier key under its name", () => {
    const verifier = parseCosignatureVerifierKey(
      witnessVerifierKey('witness.vaxguard.test', PUBLIC_KEY_LINE),
    );
    expect(verifier.name).toBe('witness.vaxguard.test');
  });
});
