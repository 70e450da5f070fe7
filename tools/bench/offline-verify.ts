// Offline verification throughput of @vaxguard/health-cards on one core, measured against
// bare `crypto.verify` over the same cards in the same run (the ceiling: one ECDSA P-256
// check per card). Issues ~1,000 distinct cards, then verifies them round-robin. The three
// phases take turns in short rounds, so a neighbour's load on this shared machine falls on
// all of them alike instead of on whichever phase it happened to overlap. Prints figures,
// asserts nothing: these machines are shared and noisy.
//   npx tsx --tsconfig tools/tsconfig.json tools/bench/offline-verify.ts
import { createPublicKey, verify } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { availableParallelism, loadavg } from 'node:os';
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
/** Each phase runs SECONDS in all, as this many turns of SECONDS / ROUNDS. */
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 50);
const ISSUER = 'https://cards.vaxguard.example';
const VACCINES = ['COVISHIELD', 'COVAXIN', 'Sputnik V'];

interface Rate {
  readonly calls: number;
  readonly seconds: number;
  readonly perSecond: number;
}

/**
 * Calls `call` round-robin over `count` inputs for `seconds`, starting at input `first`;
 * checks the clock every 64 calls.
 */
function measure(
  seconds: number,
  count: number,
  call: (index: number) => unknown,
  first = 0,
): Rate {
  const begin = performance.now();
  const deadline = begin + seconds * 1000;
  let calls = 0;
  while (performance.now() < deadline) {
    for (let i = 0; i < 64; i++) call((first + calls++) % count);
  }
  const elapsed = (performance.now() - begin) / 1000;
  return { calls, seconds: elapsed, perSecond: calls / elapsed };
}

const sum = (rates: readonly Rate[]): Rate => {
  const calls = rates.reduce((total, rate) => total + rate.calls, 0);
  const seconds = rates.reduce((total, rate) => total + rate.seconds, 0);
  return { calls, seconds, perSecond: calls / seconds };
};

/**
 * Runs the phases in turns of `seconds / rounds`, rotating which goes first each round,
 * and adds up each phase's calls and time. Each phase carries on through the cards where
 * its previous turn stopped, so every card is verified as often as in one long run.
 */
function interleave(
  seconds: number,
  rounds: number,
  count: number,
  phases: readonly ((index: number) => unknown)[],
): { readonly totals: Rate[]; readonly perRound: Rate[][] } {
  const perRound: Rate[][] = phases.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let turn = 0; turn < phases.length; turn++) {
      const phase = (round + turn) % phases.length;
      const done = perRound[phase]!;
      done.push(measure(seconds / rounds, count, phases[phase]!, sum(done).calls));
    }
  }
  return { totals: perRound.map(sum), perRound };
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
  // The floor: what every verifier of a card must do at least, with nothing checked. The
  // signature, then the payload inflated and parsed (pre-split and pre-decoded here).
  const payloads = cards.map((jws) => Buffer.from(jws.split('.')[1]!, 'base64url'));
  const floor = (i: number) =>
    bareVerify(i) && JSON.parse(inflateRawSync(payloads[i]!).toString('utf8')) !== undefined;

  // Warm every path before measuring.
  measure(0.5, CARDS, bareVerify);
  measure(0.5, CARDS, floor);
  measure(0.5, CARDS, (i) => verifier.verify(cards[i]));
  measure(0.5, CARDS, (i) => verifier.verify(scanned[i]));

  const loadBefore = loadavg()[0]!;
  const { totals, perRound } = interleave(SECONDS, ROUNDS, CARDS, [
    bareVerify,
    floor,
    (i) => verifier.verify(cards[i]),
    (i) => verifier.verify(scanned[i]),
  ]);
  const [baseline, floorRate, jws, qr] = totals as [Rate, Rate, Rate, Rate];
  // Each round's ratio to the baseline's turn in the same round: the median resists a
  // neighbour's burst of load, and the spread shows how much the load moved the figures.
  const ratioRange = (phase: number) => {
    const ratios = perRound[phase]!.map(
      (rate, round) => rate.perSecond / perRound[0]![round]!.perSecond,
    ).sort((a, b) => a - b);
    const median = ratios[Math.floor(ratios.length / 2)]!;
    return `per-round ratio median ${median.toFixed(3)} (${ratios[0]!.toFixed(3)}..${ratios.at(-1)!.toFixed(3)})`;
  };
  process.stdout.write(
    [
      '',
      `${ROUNDS} rounds; load average ${loadBefore.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after (${availableParallelism()} cores)`,
      format('baseline: bare crypto.verify (ES256)', baseline),
      `${format('floor: crypto.verify + inflate + JSON.parse', floorRate, baseline)}  ${ratioRange(1)}`,
      `${format('verify(compact JWS)', jws, baseline)}  ${ratioRange(2)}`,
      `${format('verify(shc:/ numeric QR text)', qr, baseline)}  ${ratioRange(3)}`,
      '',
      'Target: 10,000 verifications/s on one core. verify() adds to the signature check the',
      'base64url decoding, raw-inflate (capped), JSON parse and the FHIR shape checks. The',
      'floor does only the signature check, the inflate and the parse, which any verifier of',
      "a SMART Health Card must: no verifier built on Node's crypto and zlib goes faster here.",
      '',
    ].join('\n'),
  );
}

runBenchmark(main);
