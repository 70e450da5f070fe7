import { leaks } from '@vaxguard/testing';
import { describe, expect, it } from 'vitest';
import { escapeXml, renderCertificateSvg, type CertificateInput } from './certificate-svg';
import { InvalidCertificateInputError } from './errors';
import { issueHealthCard } from './issue';
import { generateIssuerKey } from './keys';
import { qrSvg } from './qr';
import { ISSUED_AT, ISSUER, twoDoseBundle } from './test-support';

const jws = issueHealthCard({
  issuer: ISSUER,
  key: generateIssuerKey(),
  issuedAt: ISSUED_AT,
  bundle: twoDoseBundle(),
});

async function input(overrides: Partial<CertificateInput> = {}): Promise<CertificateInput> {
  return {
    name: 'Asha Verma',
    birthYear: 1985,
    maskedId: 'XXXX XXXX 2346',
    beneficiaryRef: 'bnf_0123456789abcdefghjkmnpqrs',
    certificateId: 'CERT-2021-000123',
    doses: [
      {
        doseNumber: 1,
        vaccineName: 'COVISHIELD',
        date: '2021-05-01',
        lotNumber: '4121Z040',
        centreName: 'PHC Kothrud, Pune',
      },
      {
        doseNumber: 2,
        vaccineName: 'COVISHIELD',
        date: '2021-08-01',
        lotNumber: '4121Z111',
        centreName: 'PHC Kothrud, Pune',
      },
    ],
    qrSvg: await qrSvg(jws),
    ...overrides,
  };
}

describe('renderCertificateSvg', () => {
  it('prints the details, the masked ID, the beneficiary ref, a row per dose and the QR modules', async () => {
    const qr = await qrSvg(jws);
    const svg = renderCertificateSvg(await input());
    for (const text of [
      'Asha Verma',
      '1985',
      'XXXX XXXX 2346',
      'bnf_0123456789abcdefghjkmnpqrs',
      'CERT-2021-000123',
    ]) {
      expect(svg).toContain(`>${text}<`);
    }
    expect(svg.match(/>COVISHIELD</g)).toHaveLength(2);
    expect(svg).toContain('>4121Z111<');
    const modules = /<path stroke="#[0-9a-f]{6}" d="([^"]+)"/.exec(qr)![1]!;
    expect(svg).toContain(`d="${modules}"`);
  });

  it('is well-formed XML whatever the text holds', async () => {
    const svg = renderCertificateSvg(
      await input({ name: `<script>alert("x")</script> & 'Co'\u0000`, certificateId: ']]><x/>' }),
    );
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('&lt;script&gt;alert(&quot;x&quot;)');
    expect(svg).not.toContain('\u0000');
    expect(escapeXml(`a&b<c>"d"'e'`)).toBe('a&amp;b&lt;c&gt;&quot;d&quot;&apos;e&apos;');
  });

  it('shows no identity number, phone or token', async () => {
    expect(leaks(renderCertificateSvg(await input()), ['234123412346'])).toEqual([]);
  });

  it.each([
    ['an unmasked Aadhaar', { maskedId: '2341 2341 2346' }],
    ['a barely masked ID', { maskedId: 'X234123412346' }],
    ['a beneficiary ref of another format', { beneficiaryRef: '9876543210' }],
    ['an SVG that is not our QR', { qrSvg: '<svg onload="alert(1)"/>' }],
    ['no dose', { doses: [] }],
  ])('refuses %s', async (_name, overrides) => {
    const certificate = await input(overrides);
    expect(() => renderCertificateSvg(certificate)).toThrow(InvalidCertificateInputError);
  });
});
