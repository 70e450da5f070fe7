// The e2e and fuzz suites' shared world: the whole platform as real processes (the four built
// services configured as `npm start` configures them, real PostgreSQL and Kafka), one per
// test file, with the helpers every scenario needs, and the record of every raw value a
// run used so that the end of each file can look for them where they must never be.
import { randomBytes } from 'node:crypto';
import { identityV1, otpV1, type identityStaffV1 } from '@vaxguard/proto';
import { EventCollector } from './event-collector';
import { eventually } from './eventually';
import { madeUpAadhaar } from './made-up-aadhaar';
import { callAs, startPlatform, type AllPlatformClients, type Platform } from './platform';
import { testClient } from './service-scenarios';
import { outcomeOf } from './refusals';

/** Every topic a platform writes: the services' events and identity's access registry. */
/** A long run signs the platform admin in again when their session has less than this left. */
const ADMIN_SESSION_MARGIN_MS = 5 * 60_000;

export const PLATFORM_TOPICS = [
  'vaxguard.identity.events',
  'vaxguard.otp.events',
  'vaxguard.vaccination-record.events',
  'vaxguard.audit.events',
  'vaxguard.identity.access-registry',
];

/** A client application configured at every service (CLIENT_CREDENTIALS), for one test. */
export interface ConfiguredClient {
  readonly clientId: string;
  readonly secret: string;
}

export interface World {
  readonly platform: Platform;
  /** The operator's clients of all four services (npm start's demo-portal). */
  readonly clients: AllPlatformClients;
  /** The platform admin's staff session (the latest: see freshAdminSession). */
  readonly adminSession: string;
  /** The admin's session, signed in again first if it would end within 5 minutes. */
  freshAdminSession(): Promise<string>;
  /** Client applications configured at start, by name, for tests that abuse a client. */
  readonly configuredClients: Readonly<Record<string, ConfiguredClient>>;
  /** Raw values the run used, which no dump, message or log may hold. */
  readonly raw: {
    readonly mobiles: Set<string>;
    readonly identityNumbers: Set<string>;
    readonly codes: Set<string>;
    readonly tokens: Set<string>;
  };
  /** A made-up mobile no other test of the run uses, recorded as raw. */
  freshMobile(): string;
  /** A made-up Aadhaar number no other test uses, recorded as raw. */
  freshAadhaar(): string;
  /** The code sent for a transaction (from the dev SMS inbox), recorded as raw. */
  code(txnId: string): Promise<string>;
  /** Confirms a transaction with the code sent for it; the token is recorded as raw. */
  confirm(txnId: string, clients?: AllPlatformClients): Promise<string>;
  /** A citizen signed in with an OTP: their token. */
  citizen(mobile: string, clients?: AllPlatformClients): Promise<string>;
  /** Registers a beneficiary on the citizen's mobile; returns its reference. */
  register(citizenToken: string, mobile: string, name?: string): Promise<string>;
  /** A fresh centre (its id). */
  centre(name?: string): Promise<string>;
  /** A fresh staff member of a role, signed in: id, session, username, password. */
  staff(
    role: identityStaffV1.StaffRole,
    centreId?: string,
  ): Promise<{ id: string; session: string; username: string; password: string }>;
  /** Clients of all four services as another client application. */
  connect(client: ConfiguredClient): AllPlatformClients;
  /**
   * Waits until every service accepts a client registered moments ago (RegisterPartner
   * reaches the services through the access registry), so a refusal after it is about
   * the call, not an unknown client.
   */
  acceptedEverywhere(clients: AllPlatformClients): Promise<void>;
  stop(): Promise<void>;
}

let mobiles = 0;

/**
 * Random lowercase letters: a name or reason a test makes unique with these never holds
 * a run of digits that the services' personal-data checks would take for a number.
 */
export const randomLetters = (count: number) =>
  Array.from(randomBytes(count), (byte) => String.fromCharCode(97 + (byte % 26))).join('');
let aadhaars = 0;

/**
 * Starts a world. `configuredClients` names client applications configured at every
 * service besides the operator's (a test that floods or locks a client uses its own).
 */
export async function startWorld(
  options: {
    configuredClients?: readonly string[];
    env?: Parameters<typeof startPlatform>[0]['env'];
    /** Services whose network to PostgreSQL or Kafka the test cuts (`platform.proxies`). */
    faultProxies?: Parameters<typeof startPlatform>[0]['faultProxies'];
    /** `pair`: PostgreSQL as a primary and a standby with automatic failover (default `single`). */
    postgres?: Parameters<typeof startPlatform>[0]['postgres'];
    /** Instances of each service (default 1): the world's clients balance over them. */
    instances?: number;
  } = {},
): Promise<World> {
  const raw = {
    mobiles: new Set<string>(),
    identityNumbers: new Set<string>(),
    codes: new Set<string>(),
    tokens: new Set<string>(),
  };
  // Each file's numbers differ: a run's files share nothing, but a made-up number must
  // still never be some other test's.
  const base = randomBytes(2).readUInt16BE(0) % 9000;
  const freshMobile = () => {
    const mobile = `9${String(base).padStart(4, '0')}${String(mobiles++).padStart(5, '0')}`;
    raw.mobiles.add(mobile);
    return mobile;
  };
  const freshAadhaar = () => {
    const aadhaar = madeUpAadhaar(base * 100_000 + aadhaars++);
    raw.identityNumbers.add(aadhaar);
    return aadhaar;
  };
  const extra = Object.fromEntries(
    (options.configuredClients ?? []).map((name) => [name, testClient(name)]),
  );
  const credentials = Object.values(extra).map((client) => client.credential);
  const adminMobile = freshMobile();
  const platform = await startPlatform({
    services: ['otp', 'identity', 'vaccination-record', 'audit'],
    adminMobile,
    // Every line a service writes is scanned for leaks at the end: info, not warn.
    logLevel: 'info',
    clients: credentials,
    ...(options.env ? { env: options.env } : {}),
    ...(options.faultProxies ? { faultProxies: options.faultProxies } : {}),
    ...(options.postgres ? { postgres: options.postgres } : {}),
    ...(options.instances ? { instances: options.instances } : {}),
  });
  try {
    const clients = platform.connectAll(platform.operator, { deadlineMs: 15_000 });
    const code = async (txnId: string) => {
      const value = await platform.smsCode(txnId);
      raw.codes.add(value);
      return value;
    };
    /** A transaction confirmed with its code: the token and when it expires (ms). */
    const confirmed = async (txnId: string, via: AllPlatformClients = clients) => {
      const { token, claims } = await via.otp.call(
        'confirmOtp',
        { txnId, otp: await code(txnId) },
        callAs(),
      );
      raw.tokens.add(token);
      return { token, expiresAt: claims?.expiresAt?.getTime() ?? 0 };
    };
    const confirm = async (txnId: string, via: AllPlatformClients = clients) =>
      (await confirmed(txnId, via)).token;
    const staffLogin = async (username: string, password: string) => {
      const { txnId } = await clients.identity.call(
        'startStaffLogin',
        { username, password },
        callAs(),
      );
      return confirmed(txnId);
    };
    const staffSignIn = async (username: string, password: string) =>
      (await staffLogin(username, password)).token;
    const adminSignIn = () => staffLogin(platform.admin.username, platform.admin.password);
    let admin = await adminSignIn();
    /**
     * The admin's session, signed in again when it would end within the margin: a long
     * run (the scale benchmark seeds for an hour) outlives one session.
     */
    const adminSession = async () => {
      if (admin.expiresAt - Date.now() < ADMIN_SESSION_MARGIN_MS) admin = await adminSignIn();
      return admin.token;
    };
    let staffCount = 0;
    const world: World = {
      platform,
      clients,
      get adminSession() {
        return admin.token;
      },
      freshAdminSession: adminSession,
      configuredClients: Object.fromEntries(
        Object.entries(extra).map(([name, client]) => [
          name,
          { clientId: client.clientId, secret: client.secret },
        ]),
      ),
      raw,
      freshMobile,
      freshAadhaar,
      code,
      confirm,
      async citizen(mobile, via = clients) {
        const { txnId } = await via.otp.call(
          'generateOtp',
          { mobile, purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN, onBehalfOfClientId: '' },
          callAs(),
        );
        return confirm(txnId, via);
      },
      async register(citizenToken, mobile, name = 'Test Person') {
        const { beneficiary } = await clients.identity.call(
          'registerBeneficiary',
          {
            mobile,
            name,
            gender: identityV1.Gender.GENDER_FEMALE,
            yearOfBirth: 1980,
            photoIdKind: identityV1.PhotoIdKind.PHOTO_ID_KIND_AADHAAR,
            photoIdNumber: freshAadhaar(),
          },
          callAs(citizenToken),
        );
        if (!beneficiary) throw new Error('RegisterBeneficiary returned no beneficiary');
        return beneficiary.beneficiaryRef;
      },
      // Letters only: a name with a run of digits may look like a phone number, refused.
      async centre(name = `Centre ${randomLetters(8)}`) {
        const { centre } = await clients.identity.call(
          'createCentre',
          { name, district: 'Pune', state: 'Maharashtra' },
          callAs(await adminSession()),
        );
        if (!centre) throw new Error('CreateCentre returned no centre');
        return centre.centreId;
      },
      async staff(role, centreId = '') {
        const username = `e2e.staff.${staffCount++}.${randomBytes(3).toString('hex')}`;
        const password = `e2e passphrase ${randomBytes(9).toString('base64url')}`;
        const { staff } = await clients.identity.call(
          'createStaff',
          {
            username,
            displayName: `Staff ${randomLetters(8)}`,
            role,
            centreId,
            mobile: freshMobile(),
            password,
          },
          callAs(await adminSession()),
        );
        if (!staff) throw new Error('CreateStaff returned no staff member');
        return {
          id: staff.staffId,
          session: await staffSignIn(username, password),
          username,
          password,
        };
      },
      async acceptedEverywhere(via) {
        const knownAt = async (call: Promise<unknown>) => {
          const refusal = await outcomeOf(call);
          if (refusal?.reason === 'BAD_CREDENTIALS') throw new Error('not known there yet');
        };
        await eventually(() =>
          Promise.all([
            knownAt(via.otp.call('getSigningKeys', {}, callAs())),
            knownAt(via.records.call('getIssuerKeys', {}, callAs())),
            knownAt(via.audit.call('getCheckpoint', {}, callAs())),
            knownAt(
              via.identity.call(
                'startStaffLogin',
                { username: 'nobody.at.all', password: 'not a password at all' },
                callAs(),
              ),
            ),
          ]),
        );
      },
      connect(client) {
        return platform.connectAll(
          { clientId: client.clientId, secret: client.secret },
          { deadlineMs: 15_000 },
        );
      },
      stop: () => platform.stop(),
    };
    return world;
  } catch (error) {
    await platform.stop();
    throw error;
  }
}

/**
 * A text and what is hidden in it: every base64 run and every hex run (`\\x…` in a
 * pg_dump's bytea) decoded, so a value stored as raw bytes inside a longer encoded
 * field is found however it is aligned.
 */
export function decodedViews(text: string): string {
  const views = [text];
  for (const run of text.match(/[A-Za-z0-9+/_-]{8,}={0,2}/g) ?? []) {
    views.push(Buffer.from(run.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('latin1'));
  }
  for (const run of text.match(/\\x([0-9a-f]{2})+/g) ?? []) {
    views.push(Buffer.from(run.slice(2), 'hex').toString('latin1'));
  }
  return views.join('\n');
}

/**
 * Where each raw value was found, `<place>: <kind> …<last 4>`: a number as digits, with
 * +91, spaced or dashed, and each of those in base64 or hex (decodedViews); a token as
 * it is; a code standing alone.
 */
export function findRawValues(
  places: Readonly<Record<string, string>>,
  raw: World['raw'],
): string[] {
  const found = new Set<string>();
  const numbers = new Map<string, string>();
  for (const mobile of raw.mobiles) numbers.set(mobile, 'mobile');
  for (const number of raw.identityNumbers) numbers.set(number, 'identity number');
  for (const [place, plain] of Object.entries(places)) {
    const text = decodedViews(plain);
    // Every run of digits, spaced or dashed or after +91 as people write them, looked up
    // window by window: one pass over the text for thousands of numbers.
    for (const run of text.match(/\d(?:[ -]?\d){9,}/g) ?? []) {
      const digits = run.replace(/[ -]/g, '');
      for (const length of [10, 12]) {
        for (let start = 0; start + length <= digits.length; start++) {
          const value = digits.slice(start, start + length);
          const kind = numbers.get(value);
          if (kind) found.add(`${place}: ${kind} …${value.slice(-4)}`);
        }
      }
    }
    for (const token of raw.tokens) {
      if (text.includes(token)) found.add(`${place}: token …${token.slice(-4)}`);
    }
    // A 6-digit code counts only standing alone: digits inside longer runs turn up by chance.
    for (const codeValue of raw.codes) {
      if (new RegExp(`(?<![0-9A-Za-z+/=])${codeValue}(?![0-9A-Za-z])`).test(text)) {
        found.add(`${place}: an OTP code`);
      }
    }
  }
  return [...found];
}

/**
 * What a thief or an insider could read after the run: a `pg_dump` of every service's
 * database, every message on every topic, every service's log.
 */
export async function everythingReadable(world: World): Promise<Record<string, string>> {
  const { platform } = world;
  const places: Record<string, string> = {};
  for (const [service, url] of Object.entries(platform.databases)) {
    if (url) places[`pg_dump of ${service}`] = await platform.postgres.dump(url);
  }
  const collector = await EventCollector.start(platform.kafka.brokers, PLATFORM_TOPICS);
  try {
    // Read every topic to its end: until the count stops growing for two seconds.
    let seen = -1;
    while (seen !== collector.rawMessages.length || seen === 0) {
      seen = collector.rawMessages.length;
      await new Promise((done) => setTimeout(done, 2_000));
    }
    places['Kafka messages'] = collector.rawMessages
      .map((bytes) => `${bytes.toString('latin1')}\n${bytes.toString('base64')}`)
      .join('\n');
  } finally {
    await collector.stop();
  }
  for (const [service, process] of Object.entries(platform.processes)) {
    if (process) places[`${service} log`] = process.output();
  }
  return places;
}
