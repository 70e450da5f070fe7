// The 2023 attack replayed against a running platform: a genuine vaccinator's login,
// driven by a bot, looks up people it has no consent for, one distinct mobile number and
// identity number after another, by every search the API offers a vaccinator. What the
// platform must do: give no personal data back, have the audit service's anomaly rules
// suspend the login within seconds of the look-up that crosses a threshold, write the
// alert and the suspension into the transparency log, and from then on refuse that
// login and every token it still holds in every service.
//
// The e2e suite asserts on the report; `vaxguard replay-leak` prints each step as it
// happens. Everything the replay creates is its own (a centre, a vaccinator, an auditor,
// a citizen), so it can run again and again against the same platform.
import { randomBytes, randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { status } from '@grpc/grpc-js';
import type { PlatformDescription } from '@vaxguard/dev-platform';
import { callAs, OperatorClient, parseLogEntry } from '@vaxguard/dev-operator';
import { newBeneficiaryRef } from '@vaxguard/pii';
import { auditV1, identityStaffV1, identityV1, otpV1 } from '@vaxguard/proto';
import { eventually } from './eventually';
import { randomMadeUpAadhaar } from './made-up-aadhaar';
import { outcomeOf, type Refusal } from './refusals';

/**
 * A bot does not wait out a refusal's retry hint (the client kit would, up to its
 * deadline: a staff member's consent cap hints at the next minute): each look-up gets a
 * second at most, so the bot keeps asking and sees the suspension when it lands.
 */
const BOT_CALL_DEADLINE_MS = 1_000;
const botCall = (token: string) => ({ ...callAs(token), deadlineMs: BOT_CALL_DEADLINE_MS });

/** Rounds of look-ups after which the replay reports how it goes. */
const LOOKUP_MILESTONES = [10, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000];

/** The goal: a suspension in force this soon after the look-up that crossed a threshold. */
export const LEAK_REPLAY_SUSPENSION_GOAL_MS = 5_000;

export interface LeakReplayOptions {
  readonly platform: PlatformDescription;
  /** Distinct mobile numbers (and as many identity numbers) the bot tries; default 1,000. */
  readonly lookups?: number;
  /** Called as each step happens, for a live account. */
  readonly onStep?: (step: LeakReplayStep) => void;
  /** How long to wait for the log to show the alert and the suspension (default 30 s). */
  readonly logWaitMs?: number;
}

export type LeakReplayStep =
  | { readonly kind: 'setup'; readonly text: string }
  | {
      readonly kind: 'lookups';
      readonly attempted: number;
      readonly refused: number;
      readonly personalData: number;
    }
  /** The first look-up refused because the login is suspended. */
  | { readonly kind: 'refused-suspended'; readonly atLookup: number }
  | {
      readonly kind: 'suspended';
      readonly afterLookups: number;
      readonly sinceCrossingMs: number | undefined;
    }
  | { readonly kind: 'log'; readonly text: string }
  | {
      readonly kind: 'refused';
      readonly service: string;
      readonly call: string;
      readonly refusal: Refusal | undefined;
    }
  | { readonly kind: 'verdict'; readonly stopped: boolean; readonly text: string };

/** One look-up the bot made: what it asked, how it ended, and when. */
export interface BotLookup {
  readonly search:
    | 'RequestConsent(mobile)'
    | 'RequestConsent(reference)'
    | 'GetBeneficiary(identity number)'
    | 'GetBeneficiary(reference)';
  readonly answeredAtMs: number;
  readonly refusal: Refusal | undefined;
  /** Personal data fields present in a successful answer (none is the only right answer). */
  readonly personalData: readonly string[];
}

/** An entry of the transparency log, as an auditor reads it over gRPC. */
export interface ReplayLogEntry {
  readonly index: number;
  readonly type: string;
  readonly actorId: string;
  readonly subjectRef: string;
  readonly payload: Record<string, unknown>;
}

export interface LeakReplayReport {
  readonly vaccinatorId: string;
  readonly lookups: readonly BotLookup[];
  /** Look-ups whose answer held personal data: must be 0. */
  readonly personalDataAnswers: number;
  /** The alert the rules raised, as its log entry. */
  readonly alert: ReplayLogEntry | undefined;
  /** The suspension, as its log entry. */
  readonly suspension: ReplayLogEntry | undefined;
  /** Which look-up crossed the alert's threshold (1-based among its kind), and when. */
  readonly crossing: { readonly lookup: number; readonly atMs: number } | undefined;
  /** From the crossing look-up's answer to the first call refused for the suspension. */
  readonly suspendedAfterMs: number | undefined;
  /** Calls made after the suspension with the login and the tokens it held, by service. */
  readonly afterwards: readonly { service: string; call: string; refusal: Refusal | undefined }[];
  readonly stopped: boolean;
  /** Every raw value the replay used, for a scan of where they must never be. */
  readonly rawValues: {
    readonly mobiles: readonly string[];
    readonly identityNumbers: readonly string[];
    readonly codes: readonly string[];
    readonly tokens: readonly string[];
  };
}

/** Anything in a look-up's answer that would be a person's data. */
const PERSONAL_FIELDS = [
  'name',
  'yearOfBirth',
  'maskedPhotoId',
  'maskedMobile',
  'gender',
  'beneficiaries',
  'beneficiary',
];

function personalDataIn(answer: unknown): string[] {
  if (answer === null || typeof answer !== 'object') return [];
  return Object.entries(answer as Record<string, unknown>)
    .filter(
      ([key, value]) =>
        PERSONAL_FIELDS.includes(key) &&
        value !== undefined &&
        value !== '' &&
        !(Array.isArray(value) && value.length === 0),
    )
    .map(([key]) => key);
}

/**
 * Decodes a log entry's canonical JSON (the event with its payload's protobuf bytes in
 * base64) into what the replay reports; an alert's payload is decoded with its message.
 */
export function readLogEntry(entry: auditV1.LogEntry): ReplayLogEntry {
  const { index, type, actor, subject, payload } = parseLogEntry(entry);
  return {
    index,
    type,
    actorId: actor.principalId,
    subjectRef: subject.ref,
    payload:
      type === 'security.alert'
        ? (auditV1.Alert.toJSON(auditV1.Alert.decode(payload.value)) as Record<string, unknown>)
        : {},
  };
}

export async function replayLeak(options: LeakReplayOptions): Promise<LeakReplayReport> {
  const { platform } = options;
  const wanted = options.lookups ?? 1_000;
  const step = options.onStep ?? (() => undefined);
  const used = {
    mobiles: [] as string[],
    identityNumbers: [] as string[],
    codes: [] as string[],
    tokens: [] as string[],
  };
  const madeUpMobile = () => {
    const mobile = `${randomInt(6, 10)}${String(randomInt(0, 1e9)).padStart(9, '0')}`;
    used.mobiles.push(mobile);
    return mobile;
  };
  const madeUpIdentityNumber = () => {
    const number = randomMadeUpAadhaar();
    used.identityNumbers.push(number);
    return number;
  };
  const operator = new OperatorClient({
    services: platform.services,
    client: platform.client,
    smsInbox: platform.smsInbox,
    deadlineMs: 15_000,
  });
  const { otp, identity, records, audit } = operator;
  /** A transaction confirmed with the code the inbox got; both kept as raw values used. */
  const confirm = async (txnId: string): Promise<string> => {
    const code = await operator.smsCode(txnId);
    used.codes.push(code);
    const { token } = await operator.confirm(txnId, code);
    used.tokens.push(token);
    return token;
  };
  const staffSignIn = async (username: string, password: string) => {
    const { txnId } = await identity.call('startStaffLogin', { username, password }, callAs());
    return confirm(txnId);
  };

  try {
    // ---- The cast: a centre, its genuine vaccinator, an auditor, a citizen who consents.
    const tag = randomBytes(4).toString('hex');
    const admin = await staffSignIn(platform.admin.username, platform.admin.password);
    const { centre } = await identity.call(
      'createCentre',
      {
        // Letters only, and its own each run: digits may read as a document number.
        name: `Replay Centre ${Array.from(randomBytes(6), (b) => String.fromCharCode(97 + (b % 26))).join('')}`,
        district: 'Mumbai Suburban',
        state: 'Maharashtra',
      },
      callAs(admin),
    );
    const createStaff = async (
      role: identityStaffV1.StaffRole,
      username: string,
      centreId: string,
    ) => {
      const password = `replay passphrase ${randomBytes(9).toString('base64url')}`;
      const { staff } = await identity.call(
        'createStaff',
        {
          username,
          // Letters only: a display name with a run of digits may read as a document number.
          displayName:
            role === identityStaffV1.StaffRole.STAFF_ROLE_AUDITOR
              ? 'Replay Auditor'
              : 'Replay Vaccinator',
          role,
          centreId,
          mobile: madeUpMobile(),
          password,
        },
        callAs(admin),
      );
      return {
        id: staff?.staffId ?? '',
        session: await staffSignIn(username, password),
        username,
        password,
      };
    };
    const vaccinator = await createStaff(
      identityStaffV1.StaffRole.STAFF_ROLE_VACCINATOR,
      `replay.vaccinator.${tag}`,
      centre?.centreId ?? '',
    );
    const auditor = await createStaff(
      identityStaffV1.StaffRole.STAFF_ROLE_AUDITOR,
      `replay.auditor.${tag}`,
      '',
    );
    step({
      kind: 'setup',
      text: `a genuine vaccinator, ${vaccinator.username}, signed in with password and OTP`,
    });

    const citizenMobile = madeUpMobile();
    const { txnId: loginTxn } = await otp.call(
      'generateOtp',
      {
        mobile: citizenMobile,
        purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN,
        onBehalfOfClientId: '',
      },
      callAs(),
    );
    const citizen = await confirm(loginTxn);
    const { beneficiary } = await identity.call(
      'registerBeneficiary',
      {
        mobile: citizenMobile,
        name: 'Replay Citizen',
        gender: identityV1.Gender.GENDER_FEMALE,
        yearOfBirth: 1970,
        photoIdKind: identityV1.PhotoIdKind.PHOTO_ID_KIND_AADHAAR,
        photoIdNumber: madeUpIdentityNumber(),
      },
      callAs(citizen),
    );
    const realRef = beneficiary?.beneficiaryRef ?? '';
    const asked = await identity.call(
      'requestConsent',
      { target: { $case: 'mobile', value: citizenMobile } },
      callAs(vaccinator.session),
    );
    const grant = await confirm(asked.txnId);
    // A second sign-in, begun now and finished after the suspension.
    const pendingSignIn = await identity.call(
      'startStaffLogin',
      { username: vaccinator.username, password: vaccinator.password },
      callAs(),
    );
    step({
      kind: 'setup',
      text: 'it holds one genuine consent grant, from a citizen who gave it their code',
    });

    // ---- The bot: distinct mobiles and identity numbers, every search a vaccinator has.
    const lookups: BotLookup[] = [];
    const started = performance.now();
    let suspendedAt: number | undefined;
    const look = async (search: BotLookup['search'], call: Promise<unknown>) => {
      let answer: unknown;
      const refusal = await outcomeOf(call.then((value) => (answer = value)));
      const lookup = {
        search,
        answeredAtMs: performance.now() - started,
        refusal,
        personalData: personalDataIn(answer),
      };
      lookups.push(lookup);
      if (refusal?.reason === 'PRINCIPAL_SUSPENDED' && suspendedAt === undefined) {
        suspendedAt = lookup.answeredAtMs;
        step({ kind: 'refused-suspended', atLookup: lookups.length });
      }
    };
    // The bot does not stop when refused: it works through its whole list.
    for (let i = 0; i < wanted; i++) {
      const session = botCall(vaccinator.session);
      // A vaccinator can ask a mobile for consent: the answer must not say whether anyone is behind it.
      await look(
        'RequestConsent(mobile)',
        identity.call(
          'requestConsent',
          { target: { $case: 'mobile', value: madeUpMobile() } },
          session,
        ),
      );
      // No search takes an identity number; the bot tries one as a reference anyway.
      await look(
        'GetBeneficiary(identity number)',
        identity.call('getBeneficiary', { beneficiaryRef: madeUpIdentityNumber() }, session),
      );
      // And a well-formed reference it has no consent for: read, and asked consent for.
      const ref = newBeneficiaryRef();
      await look(
        'GetBeneficiary(reference)',
        identity.call('getBeneficiary', { beneficiaryRef: ref }, session),
      );
      await look(
        'RequestConsent(reference)',
        identity.call(
          'requestConsent',
          { target: { $case: 'beneficiaryRef', value: ref } },
          session,
        ),
      );
      // A few milestones, not a line per look-up.
      if (LOOKUP_MILESTONES.includes(i + 1) && i + 1 < wanted) {
        step({
          kind: 'lookups',
          attempted: lookups.length,
          refused: lookups.filter((l) => l.refusal).length,
          personalData: lookups.filter((l) => l.personalData.length > 0).length,
        });
      }
    }
    // A short list can end before the suspension lands: the bot keeps asking, a little
    // slower, until it is refused for it (or long past the goal), so the time is measured.
    const lastAnswer = lookups.at(-1)?.answeredAtMs ?? 0;
    while (
      suspendedAt === undefined &&
      performance.now() - started < lastAnswer + 2 * LEAK_REPLAY_SUSPENSION_GOAL_MS
    ) {
      await new Promise((done) => setTimeout(done, 20));
      await look(
        'RequestConsent(mobile)',
        identity.call(
          'requestConsent',
          { target: { $case: 'mobile', value: madeUpMobile() } },
          botCall(vaccinator.session),
        ),
      );
    }
    const personalDataAnswers = lookups.filter((l) => l.personalData.length > 0).length;
    step({
      kind: 'lookups',
      attempted: lookups.length,
      refused: lookups.filter((l) => l.refusal).length,
      personalData: personalDataAnswers,
    });

    // ---- The log, read by an auditor: the alert naming the vaccinator, and the suspension.
    const entriesOf = async (eventType: string, filter: { subjectRef?: string }) => {
      const { entries } = await audit.call(
        'queryEntries',
        {
          actorId: '',
          subjectRef: filter.subjectRef ?? '',
          eventType,
          pageSize: 100,
          pageToken: '',
        },
        callAs(auditor.session),
      );
      return entries.map(readLogEntry);
    };
    const waitFor = async (what: () => Promise<ReplayLogEntry | undefined>) =>
      eventually(
        async () => {
          const found = await what();
          if (!found) throw new Error('not in the log yet');
          return found;
        },
        { timeoutMs: options.logWaitMs ?? 30_000, intervalMs: 250 },
      ).catch(() => undefined);
    const alert = await waitFor(async () =>
      (await entriesOf('security.alert', { subjectRef: vaccinator.id })).find(
        (entry) => entry.payload['principalId'] === vaccinator.id,
      ),
    );
    const suspension = await waitFor(
      async () => (await entriesOf('principal.suspended', { subjectRef: vaccinator.id }))[0],
    );
    // The genuine consent request of the setup is the login's first: the bot's requests
    // reach the threshold one sooner.
    const crossing = crossingOf(alert, lookups, { consentRequestsBefore: 1 });
    const suspendedAfterMs =
      suspendedAt !== undefined && crossing ? suspendedAt - crossing.atMs : undefined;
    step({ kind: 'suspended', afterLookups: lookups.length, sinceCrossingMs: suspendedAfterMs });
    if (alert)
      step({
        kind: 'log',
        text: `alert ${ruleOf(alert)} is log entry ${alert.index}`,
      });
    if (suspension) step({ kind: 'log', text: `the suspension is log entry ${suspension.index}` });

    // ---- Afterwards: the login and every token it held, refused in every service.
    const afterwards: { service: string; call: string; refusal: Refusal | undefined }[] = [];
    const attempt = async (service: string, call: string, promise: Promise<unknown>) => {
      const refusal = await outcomeOf(promise);
      afterwards.push({ service, call, refusal });
      step({ kind: 'refused', service, call, refusal });
    };
    await attempt(
      'identity',
      'GetBeneficiary with the genuine grant',
      identity.call('getBeneficiary', { beneficiaryRef: realRef }, callAs(grant)),
    );
    await attempt(
      'identity',
      'RequestConsent with the session',
      identity.call(
        'requestConsent',
        { target: { $case: 'beneficiaryRef', value: realRef } },
        callAs(vaccinator.session),
      ),
    );
    await attempt(
      'identity',
      'StartStaffLogin with the password',
      identity.call(
        'startStaffLogin',
        { username: vaccinator.username, password: vaccinator.password },
        callAs(),
      ),
    );
    await attempt(
      'vaccination-record',
      'RecordDose with the session and the grant',
      records.call(
        'recordDose',
        {
          beneficiaryRef: realRef,
          vaccineCode: 'COVISHIELD',
          doseNumber: 1,
          administeredOn: new Date().toISOString().slice(0, 10),
          batchNumber: '4121Z005',
          clientRequestId: `replay-${tag}`,
          consentGrant: grant,
        },
        callAs(vaccinator.session),
      ),
    );
    await attempt(
      'vaccination-record',
      'FindBeneficiaryForVaccination with the grant',
      records.call(
        'findBeneficiaryForVaccination',
        { consentGrant: grant },
        callAs(vaccinator.session),
      ),
    );
    await attempt(
      'audit',
      'QueryEntries with the session',
      audit.call(
        'queryEntries',
        { actorId: '', subjectRef: realRef, eventType: '', pageSize: 10, pageToken: '' },
        callAs(vaccinator.session),
      ),
    );
    // OTP takes no user token: what it can do for the login is finish a sign-in begun
    // before the suspension. Whatever it answers, the session it might issue is dead.
    await attempt(
      'otp',
      'ConfirmOtp of a sign-in begun before the suspension, then its session used',
      (async () => {
        const session = await confirm(pendingSignIn.txnId);
        await identity.call(
          'requestConsent',
          { target: { $case: 'beneficiaryRef', value: realRef } },
          callAs(session),
        );
      })(),
    );

    const refusedEverywhere = afterwards.every(
      (a) => a.refusal !== undefined && a.refusal.code !== Number(status.INTERNAL),
    );
    const stopped =
      personalDataAnswers === 0 &&
      suspendedAfterMs !== undefined &&
      suspendedAfterMs <= LEAK_REPLAY_SUSPENSION_GOAL_MS &&
      alert !== undefined &&
      suspension !== undefined &&
      refusedEverywhere;
    step({
      kind: 'verdict',
      stopped,
      text: stopped
        ? `STOPPED: ${lookups.length} look-ups, 0 answers with personal data, suspended ${Math.round(suspendedAfterMs ?? 0)} ms after the look-up that crossed the threshold, alert and suspension in the log, the login refused everywhere`
        : `NOT STOPPED: personal data answers ${personalDataAnswers}, suspended after ${suspendedAfterMs === undefined ? 'never' : Math.round(suspendedAfterMs)} ms, alert ${alert ? 'logged' : 'missing'}, suspension ${suspension ? 'logged' : 'missing'}, refused everywhere: ${refusedEverywhere}`,
    });
    return {
      rawValues: used,
      vaccinatorId: vaccinator.id,
      lookups,
      personalDataAnswers,
      alert,
      suspension,
      crossing,
      suspendedAfterMs,
      afterwards,
      stopped,
    };
  } finally {
    operator.close();
  }
}

/**
 * The look-up that crossed the alert's threshold: the one that made the count of the
 * kind the rule counts (consent requests, or refused reads) pass it, counting what the
 * login did before the bot.
 */
function crossingOf(
  alert: ReplayLogEntry | undefined,
  lookups: readonly BotLookup[],
  before: { consentRequestsBefore: number },
): LeakReplayReport['crossing'] {
  if (!alert) return undefined;
  const rule = ruleOf(alert);
  const window = alert.payload['window'] as { threshold?: number } | undefined;
  const threshold = Number(window?.threshold ?? NaN);
  if (!Number.isFinite(threshold)) return undefined;
  const counted = lookups.filter((lookup) =>
    rule.includes('CONSENT')
      ? lookup.search.startsWith('RequestConsent')
      : !lookup.search.startsWith('RequestConsent') && lookup.refusal !== undefined,
  );
  const prior = rule.includes('CONSENT') ? before.consentRequestsBefore : 0;
  const index = Math.max(0, threshold - prior);
  const crossing = counted[index];
  return crossing ? { lookup: index + 1, atMs: crossing.answeredAtMs } : undefined;
}

/** The rule an alert entry names. */
function ruleOf(alert: ReplayLogEntry): string {
  const rule = alert.payload['rule'];
  return typeof rule === 'string' ? rule : '';
}
