import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildImmunizationBundle,
  createRevocationList,
  generateIssuerKey,
  issueHealthCard,
  jwksOf,
  toNumericQr,
} from '@vaxguard/health-cards';
import { vaxguard } from '../test-support';

// Offline verification needs no platform: the issuer's keys (and revocation lists) from
// files, the issuer named on the command line.
const ISSUER = 'https://vaxguard.test/issuer';
const dir = mkdtempSync(join(tmpdir(), 'vaxguard-cli-certificate-'));
const key = generateIssuerKey();
const card = (rid?: string) =>
  toNumericQr(
    issueHealthCard({
      issuer: ISSUER,
      key,
      issuedAt: new Date('2021-06-02T10:00:00Z'),
      bundle: buildImmunizationBundle({
        patient: { givenNames: ['Asha'], familyName: 'Devi', birthYear: 1961 },
        immunizations: [
          {
            vaccineCodings: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '210' }],
            occurrenceDate: '2021-03-01',
            lotNumber: '4121Z005',
            performerName: 'PHC Andheri West',
          },
        ],
      }),
      ...(rid ? { rid } : {}),
    }),
  );
const keysFile = join(dir, 'jwks.json');
writeFileSync(keysFile, JSON.stringify(jwksOf([key])));
const offline = ['--keys-file', keysFile, '--issuer', ISSUER];

describe('vaxguard certificate verify, offline', () => {
  it('accepts a valid card from a file or as text, and shows what a verifier shows', async () => {
    const file = join(dir, 'card.shc');
    writeFileSync(file, `${card()}\n`);
    const fromFile = await vaxguard(['certificate', 'verify', file, ...offline]);
    expect(fromFile.exitCode).toBe(0);
    expect(fromFile.stdout).toContain(
      `valid: a SMART Health Card from ${ISSUER}, signed by key ${key.kid}`,
    );
    expect(fromFile.stdout).toContain('Asha Devi, born 1961');
    const asText = await vaxguard(['--json', 'certificate', 'verify', card(), ...offline]);
    expect(asText.exitCode).toBe(0);
    expect(JSON.parse(asText.stdout)).toMatchObject({
      status: 'valid',
      kid: key.kid,
      patient: { name: 'Asha Devi', birthYear: 1961 },
      doses: [{ vaccine: '210', date: '2021-03-01' }],
    });
  });

  it('fails (1) a card that was altered, naming why', async () => {
    const tampered = `${card().slice(0, -4)}0000`;
    const { exitCode, stdout } = await vaxguard(['certificate', 'verify', tampered, ...offline]);
    expect(exitCode).toBe(1);
    expect(stdout).toMatch(/^invalid \((BAD_SIGNATURE|MALFORMED|INFLATE_FAILED)\)/);
  });

  it('fails (1) a card its issuer revoked, from the revocation list given', async () => {
    // The key set announces a revocation list; the verifier insists on having it.
    const announcing = join(dir, 'jwks-crl.json');
    writeFileSync(announcing, JSON.stringify(jwksOf([key], { [key.kid]: 1 })));
    const without = await vaxguard([
      'certificate',
      'verify',
      card(),
      '--keys-file',
      announcing,
      '--issuer',
      ISSUER,
    ]);
    expect(without.exitCode).toBe(2);
    expect(without.stderr).toContain('announces revocation list version 1; give that list');
    const crl = join(dir, 'crl.json');
    writeFileSync(crl, JSON.stringify(createRevocationList(key.kid, [{ rid: 'revoked-rid' }])));
    const { exitCode, stdout } = await vaxguard([
      'certificate',
      'verify',
      card('revoked-rid'),
      '--keys-file',
      announcing,
      '--issuer',
      ISSUER,
      '--crl',
      crl,
    ]);
    expect(exitCode).toBe(1);
    expect(stdout).toContain(`revoked: signed by key ${key.kid} of ${ISSUER}`);
    expect(stdout).not.toContain('Asha');
  });

  it('fails (1) a card from an issuer it was not told to trust', async () => {
    const { exitCode, stdout } = await vaxguard([
      'certificate',
      'verify',
      card(),
      '--keys-file',
      keysFile,
      '--issuer',
      'https://elsewhere.test/issuer',
    ]);
    expect(exitCode).toBe(1);
    expect(stdout).toContain('invalid (UNKNOWN_ISSUER)');
  });
});
