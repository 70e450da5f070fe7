// Offline verification throughput of @vaxguard/health-cards on one core, measured against
// bare `crypto.verify` over the same cards in the same run (the ceiling: one ECDSA P-256
// check per card). Issues ~1,000 distinct cards, then verifies them round-robin for a
// fixed time. Prints figures, asserts nothing: these machines are shared and noisy.
//   npx tsx --tsconfig tools/tsconfig.json tools/bench/offline-verify.ts
import { createPublicKey, verify } from 'node:crypto';
import {
  buildImmunizationBundle,
  createOfflineVerifier,
  generateIssuerKey,
  issueHealthCard,
  jwksOf,
  toNumericQr,
} from '@vaxguard/health-cards';
import { runBenchmark } from './harness';

const CARDS = Number(process.env['BENCH_CARDS'] ?? 1_000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const ISSUER = 'https://cards.vaxguard.example';
const VACCINES = ['COVISHIELD', 'COVAXIN', 'Sputnik V'];

interface Rate {
  readonly calls: number;
  readonly seconds: number;
  readonly perSecond: number;
}

/** Calls `call` round-robin over `count` inputs for `seconds`; checks the clock every 64 calls. */
function measure(seconds: number, count: number, call: (index: number) => unknown): Rate {
  const begin = performance.now();
  const deadline = begin + seconds * 1000;
  let calls = 0;
  while (performance.now() < deadline) {
    for (let i = 0; i < 64; i++) call(calls++ % count);
  }
  const elapsed = (performance.now() - begin) / 1000;
  return { calls, seconds: elapsed, perSecond: calls / elapsed };
}

function format(name: string, rate: Rate, baseline?: Rate): string {
  const ratio = baseline ? `  ${(rate.perSecond / baseline.perSecond).toFixed(3)} x baseline` : '';
  return `${name.padEnd(44)} ${rate.perSecond.toFixed(0).padStart(7)} verifications/s  (${rate.calls} in ${rate.seconds.toFixed(1)} s)${ratio}`;
}

async function main(): Promise<void> {
  process.stdout.write(
    `Offline SMART Health Card verification: ${CARDS} distinct cards, ${SECONDS} s per phase, one core\n`,
  );
  const current = generateIssuerKey();
  const retired = generateIssuerKey();
  const cards = Array.from({ length: CARDS }, (_, i) =>
    issueHealthCard({
      issuer: ISSUER,
      // One card in ten signed with the retired key, still published.
      key: i % 10 === 0 ? retired : current,
      issuedAt: new Date(Date.UTC(2021, 7, 1) + i * 60_000),
      rid: `bench${String(i).padStart(6, '0')}`,
      bundle: buildImmunizationBundle({
        patient: {
          givenNames: ['Beneficiary', `N${i}`],
          familyName: 'Bench',
          birthYear: 1940 + (i % 60),
        },
        immunizations: [1, 2].map((dose) => ({
          vaccineCodings: [{ system: 'http://hl7.org/fhir/sid/cvx', code: String(207 + (i % 3)) }],
          occurrenceDate: `2021-0${dose * 3}-${String(1 + (i % 28)).padStart(2, '0')}`,
          lotNumber: `${VACCINES[i % 3]!.slice(0, 3).toUpperCase()}${(i * 7919 + dose) % 100_000}`,
          performerName: `Vaccination centre ${i % 97}, district ${i % 13}`,
        })),
      }),
    }),
  );
  const scanned = cards.map(toNumericQr);
  const meanLength = cards.reduce((sum, jws) => sum + jws.length, 0) / cards.length;
  process.stdout.write(
    `issued ${cards.length} cards, mean JWS length ${meanLength.toFixed(0)} characters\n`,
  );

  const verifier = createOfflineVerifier({
    issuers: [{ iss: ISSUER, jwks: jwksOf([current, retired]) }],
    now: () => new Date(Date.UTC(2022, 0, 1)),
  });
  // Every card must verify, or the figures below would measure refusals.
  const refused = cards.filter((jws) => verifier.verify(jws).status !== 'valid').length;
  if (refused > 0) throw new Error(`${refused} of the issued cards did not verify`);

  // The baseline: the signature check alone, keys already imported, inputs pre-split.
  const publicKeys = new Map(
    [current, retired].map((key) => [key.kid, createPublicKey(key.privateKey)]),
  );
  const bare = cards.map((jws, i) => {
    const dot = jws.lastIndexOf('.');
    return {
      data: Buffer.from(jws.slice(0, dot), 'latin1'),
      signature: Buffer.from(jws.slice(dot + 1), 'base64url'),
      key: publicKeys.get(i % 10 === 0 ? retired.kid : current.kid)!,
    };
  });
  const bareVerify = (i: number) => {
    const { data, signature, key } = bare[i]!;
    return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  };

  // Warm both paths before measuring.
  measure(0.5, CARDS, bareVerify);
  measure(0.5, CARDS, (i) => verifier.verify(cards[i]));

  const baseline = measure(SECONDS, CARDS, bareVerify);
  const jws = measure(SECONDS, CARDS, (i) => verifier.verify(cards[i]));
  const qr = measure(SECONDS, CARDS, (i) => verifier.verify(scanned[i]));
  process.stdout.write(
    [
      '',
      format('baseline: bare crypto.verify (ES256)', baseline),
      format('verify(compact JWS)', jws, baseline),
      format('verify(shc:/ numeric QR text)', qr, baseline),
      '',
      'Target: 10,000 verifications/s on one core. verify() adds to the signature check the',
      'base64url decoding, raw-inflate (capped), JSON parse and the FHIR shape checks.',
      '',
    ].join('\n'),
  );
}

runBenchmark(main);
