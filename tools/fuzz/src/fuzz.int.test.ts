// Issue 18, fuzzing every RPC: requests generated from the proto descriptors (requests.ts)
// sent as raw bytes to the whole platform as real processes, with valid and invalid
// client credentials, tokens and consent grants. Holds: no process exits, no INTERNAL or
// UNKNOWN for a client's mistake, no answer echoes the personal data the request held,
// every service SERVING after each batch. FUZZ_REQUESTS (10,000 in npm test, 100,000 in
// `npx nx run fuzz:full`), FUZZ_SEED replays a run.
import { identityStaffV1 } from '@vaxguard/proto';
import { callAs, checkHealth, leaks, startWorld, type World } from '@vaxguard/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRawCaller, type Answer } from './raw-call';
import { redactedHex, requestArb, type FuzzRequest, type KnownValues } from './requests';
import { platformRpcs } from './rpcs';
import { Tally } from './tally';

const REQUESTS = Number(process.env['FUZZ_REQUESTS'] ?? 10_000);
const SEED = Number(process.env['FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const BATCH = 500;
const CONCURRENCY = 16;
/** Statuses that say the server failed, never a fair answer to what a client sent. */
const SERVER_FAULTS = new Set(['INTERNAL', 'UNKNOWN']);
/** What kafkajs logs when a consumer's handler throws on a batch. */
const STALLED_CONSUMER = 'Error when calling eachBatch';
const EVERYTHING = { scope: { $case: 'everything' as const, value: true } };

/** A compact JWS with its payload changed and the signature kept: a forgery. */
function forged(token: string, change: (payload: Record<string, unknown>) => void): string {
  const [header, payload, signature] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
  change(claims);
  return `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
}

let world: World;
let tokens: Record<string, string>;
let known: KnownValues;

beforeAll(async () => {
  world = await startWorld({ configuredClients: ['other-client'] });
  const mobile = world.freshMobile();
  const citizen = await world.citizen(mobile);
  const beneficiaryRef = await world.register(citizen, mobile);
  const centreId = await world.centre();
  const { StaffRole } = identityStaffV1;
  const vaccinator = await world.staff(StaffRole.STAFF_ROLE_VACCINATOR, centreId);
  const centreAdmin = await world.staff(StaffRole.STAFF_ROLE_CENTRE_ADMIN, centreId);
  const auditor = await world.staff(StaffRole.STAFF_ROLE_AUDITOR);
  // A staff member whose id requests may name (to suspend, to read): not one signed in here.
  const bystander = await world.staff(StaffRole.STAFF_ROLE_VACCINATOR, centreId);
  const { txnId } = await world.clients.identity.call(
    'requestConsent',
    { target: { $case: 'beneficiaryRef', value: beneficiaryRef } },
    callAs(vaccinator.session),
  );
  const grant = await world.confirm(txnId);
  const inAnHour = Math.floor(Date.now() / 1000) + 3600;
  tokens = {
    citizen,
    admin: world.adminSession,
    vaccinator: vaccinator.session,
    'centre-admin': centreAdmin.session,
    auditor: auditor.session,
    grant,
    'forged-grant': forged(grant, (claims) => (claims['exp'] = inAnHour)),
    'expired-session': forged(vaccinator.session, (claims) => (claims['exp'] = 1_000_000_000)),
    'other-audience': forged(citizen, (claims) => (claims['aud'] = 'vaxguard:staff')),
    'alg-none': `${Buffer.from('{"alg":"none"}').toString('base64url')}.${citizen.split('.')[1]}.`,
    garbage: 'not a token at all',
  };
  known = {
    ids: [beneficiaryRef, centreId, bystander.id, txnId, 'other-client', '1', '0'],
    tokens: Object.values(tokens),
  };
}, 600_000);

afterAll(async () => {
  await world?.stop();
});

/** Each process still running (not exited, so not restarted) and SERVING. */
async function platformHealth(): Promise<string[]> {
  const problems: string[] = [];
  for (const [service, running] of Object.entries(world.platform.processes)) {
    if (!running) continue;
    if (running.child.exitCode !== null || running.child.signalCode !== null) {
      problems.push(`${service} exited (${running.child.exitCode ?? running.child.signalCode})`);
      continue;
    }
    // A request's data carried into an event that a consumer cannot apply stalls it for
    // good (it retries the event): the process is up and SERVING, only its log says so.
    if (running.output().includes(STALLED_CONSUMER)) {
      problems.push(`${service}: a consumer failed to apply an event (${STALLED_CONSUMER})`);
    }
    const health = await checkHealth(running.address, '', 5_000).catch(
      (error: unknown) => `no answer: ${String(error)}`,
    );
    if (health !== 'SERVING') problems.push(`${service} health: ${health}`);
  }
  return problems;
}

/** What is wrong with an answer to a request: a server fault, or its personal data echoed. */
function problemsWith(request: FuzzRequest, answer: Answer): string[] {
  const problems: string[] = [];
  const said = `${request.rpc.name} (${request.shape}, client ${request.client}, token ${request.token}) answered`;
  if (SERVER_FAULTS.has(answer.status)) {
    problems.push(
      `${said} ${answer.status} "${answer.text.split('\n')[0]}" to ${redactedHex(request)}`,
    );
  }
  // An answer may carry what the caller may see (its own token, a record it holds a grant
  // for); a refusal carries nothing personal at all; neither repeats the request's data.
  // In a refusal the scanner's every find counts but a 6-digit run, which is as often a
  // size or an index the request named as an OTP.
  const digits = request.personal.map((value) => value.replace(/^\+91 /, ''));
  const echoed =
    answer.status === 'OK'
      ? digits.filter((value) => answer.text.includes(value))
      : leaks(answer.text, digits).filter((found) => !found.startsWith('otp '));
  if (echoed.length > 0) {
    problems.push(
      `${said} ${answer.status} echoing personal data (${echoed.map((found) => found.split(' ')[0]).join(', ')}) to ${redactedHex(request)}`,
    );
  }
  return problems;
}

describe('fuzzing every RPC of every service', () => {
  it(`answers ${REQUESTS} generated requests without a crash, a server fault or an echo`, async () => {
    const rpcs = platformRpcs();
    const tokenNames = Object.keys(tokens);
    const arbitrary = requestArb(rpcs, known, tokenNames);
    const otherClient = world.configuredClients['other-client'];
    if (!otherClient) throw new Error('the other client is not configured');
    const caller = createRawCaller({
      client: world.platform.operator,
      otherClient,
      deadlineMs: 15_000,
    });
    const tally = new Tally();
    const problems: string[] = [];
    console.log(
      `fuzz: seed ${SEED}, ${REQUESTS} requests over ${rpcs.length} RPCs (FUZZ_SEED=${SEED} replays them)`,
    );
    const admin = callAs(world.adminSession);
    const started = Date.now();
    try {
      for (let batch = 0; batch * BATCH < REQUESTS; batch++) {
        const count = Math.min(BATCH, REQUESTS - batch * BATCH);
        const requests = fc.sample(arbitrary, { seed: SEED + batch, numRuns: count });
        let next = 0;
        const worker = async () => {
          for (let index = next++; index < requests.length; index = next++) {
            const request = requests[index] as FuzzRequest;
            const token = request.token === 'none' ? undefined : tokens[request.token];
            const answer = await caller.call(
              world.platform.address(request.rpc.service),
              request,
              token,
            );
            tally.add(request.rpc.name, answer.status, answer.reason);
            problems.push(...problemsWith(request, answer));
          }
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, worker));
        // A generated SetApiLock(everything) as the admin locks the whole platform, as it
        // should: lifted after each batch, so that the next one reaches past the kill switch.
        await world.clients.identity
          .call('clearApiLock', { scope: EVERYTHING, reason: 'fuzz batch over' }, admin)
          .catch(() => undefined);
        const health = await platformHealth();
        if (health.length > 0) {
          problems.push(...health.map((line) => `after batch ${batch} (seed ${SEED}): ${line}`));
          break;
        }
      }
    } finally {
      caller.close();
      console.log(`${tally.table()}\n\nrefusals by reason:\n${tally.refusals()}`);
      console.log(
        `fuzz: ${tally.total} requests in ${Math.round((Date.now() - started) / 1000)} s, seed ${SEED}, ${problems.length} problems`,
      );
    }
    if (problems.length > 0) {
      // What the services logged of their faults (their loggers redact personal data).
      for (const [service, running] of Object.entries(world.platform.processes)) {
        const faults = (running?.output() ?? '')
          .split('\n')
          .filter((line) => /"level":"error"/.test(line))
          .slice(-10);
        if (faults.length > 0) console.log(`${service} errors:\n${faults.join('\n')}`);
      }
    }
    expect(tally.rpcs()).toEqual(rpcs.map((rpc) => rpc.name).sort());
    expect(problems.slice(0, 50)).toEqual([]);
  }, 3_600_000);
});
