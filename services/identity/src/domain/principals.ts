import { randomBytes, randomUUID } from 'node:crypto';
import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  notFound,
  permissionDenied,
  resourceExhausted,
  unauthenticated,
  type VaxGuardError,
} from '@vaxguard/errors';
import { findSensitive, maskMobileForDisplay, parseMobile, type Mobile } from '@vaxguard/pii';
import {
  apiLockKey,
  SERVICE_SCOPES,
  STAFF_ROLES,
  type ApiLockScope,
  type StaffRole,
} from '@vaxguard/tokens';
import {
  ANY_CLIENT_ID,
  checkConsentSmsQuota,
  checkPartnerQuota,
  checkPlatformServiceClientStop,
  checkStaffPassword,
  isPlatformServiceClient,
  isClientSignInThrottled,
  PLATFORM_SERVICE_CLIENT_PREFIX,
  STAFF_LOGIN_FAILED_USERNAMES_PER_CLIENT_PER_MINUTE,
  STAFF_LOGIN_FAILURE_WINDOW_MS,
  staffLockedUntil,
  staffLoginFailureWindowStart,
} from './identity-rules';

/**
 * The principals allowed to call VaxGuard besides citizens: staff (bound to a centre,
 * except platform admins and auditors) and partner client applications; and the kill
 * switch over them: suspensions, partner locks and API locks. Every change is an event;
 * partners, suspensions and locks are also replicated to every service, which enforces
 * them on each call from memory.
 */

export type { ApiLockScope, StaffRole };

export interface Centre {
  readonly centreId: string;
  readonly name: string;
  readonly district: string;
  readonly state: string;
}

export interface StaffRecord {
  readonly staffId: string;
  readonly username: string;
  readonly displayName: string;
  readonly role: StaffRole;
  /** Empty for platform admins and auditors. */
  readonly centreId: string;
  readonly mobileIndex: string;
  readonly maskedMobile: string;
  /** scrypt, PHC string (staff-passwords.ts). */
  readonly passwordHash: string;
  readonly failedLogins: number;
  readonly lastFailedLoginAt: Date | undefined;
}

/** What staff creation writes: the record and the mobile the store seals. */
export interface NewStaff extends StaffRecord {
  readonly mobile: Mobile;
}

export interface PartnerRecord {
  readonly clientId: string;
  readonly displayName: string;
  readonly secretSha256: Buffer;
  readonly scopes: readonly string[];
  readonly quotaPerMinute: number;
  /** Consent requests a minute and a day (IST); unset, identity-rules' defaults. */
  readonly consentSmsPerMinute?: number;
  readonly consentSmsPerDay?: number;
  readonly locked: boolean;
}

/**
 * A staff member, or a client application by its client id: a partner registered here,
 * or a client configured at any service (CLIENT_CREDENTIALS), which identity cannot list.
 */
export type PrincipalKind = 'STAFF' | 'PARTNER_CLIENT';
export interface PrincipalRef {
  readonly kind: PrincipalKind;
  readonly id: string;
}

/** Who administers: a staff member by their session, or a platform service by its client. */
export type AdminActor =
  | {
      readonly kind: 'staff';
      readonly staffId: string;
      readonly role: StaffRole;
      readonly centreId: string;
      readonly clientId: string;
    }
  | { readonly kind: 'service'; readonly clientId: string; readonly scopes: readonly string[] };

interface EventBase {
  readonly actor: AdminActor;
  readonly occurredAt: Date;
}

/**
 * The facts the principal flows publish; no mobile, password or secret, and of staff
 * members only their role and centre (the audit service names a reader's centre).
 */
export type PrincipalEvent =
  | (EventBase & { readonly type: 'centre.created'; readonly centre: Centre })
  | (EventBase & {
      readonly type: 'staff.created';
      readonly staffId: string;
      readonly role: StaffRole;
      /** Empty for roles that work at no centre. */
      readonly centreId: string;
    })
  | (EventBase & {
      readonly type: 'principal.suspended' | 'principal.reinstated';
      readonly principal: PrincipalRef;
      readonly reason: string;
    })
  | (EventBase & { readonly type: 'partner.registered'; readonly partner: PartnerRecord })
  | (EventBase & {
      readonly type: 'partner.locked' | 'partner.unlocked';
      readonly partner: PartnerRecord;
      readonly reason: string;
    })
  | (EventBase & {
      readonly type: 'api.locked' | 'api.unlocked';
      readonly scope: ApiLockScope;
      readonly reason: string;
    })
  | StaffLoginEvent;

/**
 * Who a failed sign-in was at: an account by its staff id, or a username that names no
 * account by its keyed index (never the username).
 */
export type SignInSubject =
  | { readonly kind: 'staff'; readonly staffId: string }
  | { readonly kind: 'unknown-username'; readonly usernameIndex: string };

/** Failed and locked sign-ins, by the client application they came through. */
export type StaffLoginEvent =
  | {
      readonly type: 'staff_login.failed';
      readonly clientId: string;
      readonly occurredAt: Date;
      readonly subject: SignInSubject;
      /** The account's wrong passwords in a row so far; 0 for an unknown username. */
      readonly failures: number;
      readonly accountLocked: boolean;
      readonly clientThrottled: boolean;
    }
  | {
      readonly type: 'staff_login.locked';
      readonly clientId: string;
      readonly occurredAt: Date;
      readonly staffId: string;
      readonly failures: number;
    };

export interface PrincipalUnitOfWork {
  insertCentre(centre: Centre): Promise<void>;
  findCentre(centreId: string): Promise<Centre | undefined>;
  /** Inserts unless the username or the mobile is taken. */
  insertStaff(staff: NewStaff): Promise<'inserted' | 'duplicate-username' | 'duplicate-mobile'>;
  findStaffByUsernameForUpdate(username: string): Promise<StaffRecord | undefined>;
  findStaff(staffId: string): Promise<StaffRecord | undefined>;
  recordLoginFailure(staffId: string, at: Date): Promise<void>;
  clearLoginFailures(staffId: string): Promise<void>;
  /** Distinct usernames the client failed to sign in at in the window starting then. */
  countClientSignInFailures(clientId: string, windowStart: Date): Promise<number>;
  /** Adds a username (its keyed index) to the client's failures in that window. */
  recordClientSignInFailure(
    clientId: string,
    usernameIndex: string,
    windowStart: Date,
  ): Promise<void>;
  /** The staff member's mobile, opened from the vault. */
  mobileOfStaff(staffId: string): Promise<Mobile>;
  insertPartner(partner: PartnerRecord): Promise<'inserted' | 'duplicate'>;
  findPartnerForUpdate(clientId: string): Promise<PartnerRecord | undefined>;
  setPartnerLocked(clientId: string, locked: boolean): Promise<void>;
  isSuspended(principal: PrincipalRef): Promise<boolean>;
  /** Whether the state changed. */
  setSuspended(
    principal: PrincipalRef,
    suspended: boolean,
    reason: string,
    at: Date,
  ): Promise<boolean>;
  setApiLock(
    key: string,
    scope: ApiLockScope,
    locked: boolean,
    reason: string,
    at: Date,
  ): Promise<boolean>;
  publish(event: PrincipalEvent): Promise<void>;
}

export interface PrincipalStore {
  transaction<T>(work: (uow: PrincipalUnitOfWork) => Promise<T>): Promise<T>;
}

/** The OTP service as staff sign-in uses it: a STAFF_LOGIN code for the staff app's client. */
export interface StaffSignInCodes {
  send(request: {
    readonly mobile: Mobile;
    readonly staff: {
      readonly staffId: string;
      readonly role: StaffRole;
      readonly centreId: string;
    };
    readonly ownerClientId: string;
  }): Promise<{ readonly txnId: string; readonly expiresAt: Date }>;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, stored: string): Promise<boolean>;
}

export interface PrincipalServiceOptions {
  readonly store: PrincipalStore;
  readonly codes: StaffSignInCodes;
  readonly passwords: PasswordHasher;
  readonly clock: () => Date;
  readonly indexMobile: (mobile: Mobile) => string;
  /** A username's keyed index (identity-rules' indexStaffUsername under an identity key). */
  readonly indexUsername: (username: string) => string;
  readonly hashSecret: (secret: string) => Buffer;
  readonly newId?: () => string;
  readonly newSecret?: () => string;
}

// ---- Rules ----------------------------------------------------------------------------

/** Usernames: short, lower-case, no personal data by construction (no digits runs allowed to be mobiles). */
const USERNAME = /^[a-z][a-z0-9._-]{2,31}$/;
const CLIENT_ID = /^[a-z0-9][a-z0-9._-]{2,63}$/;
const OPAQUE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const SCOPE = /^[a-z][a-z0-9:._-]{0,63}$/;
const METHOD_PATH = /^\/[a-zA-Z][\w.]*\/[A-Z]\w*$/;
const SERVICE_NAME = /^[a-zA-Z][\w.]*$/;
export const TEXT_FIELD_MAX_LENGTH = 100;
/** A reason is kept in events forever: short, and never personal data. */
export const REASON_LENGTH = { min: 3, max: 200 } as const;
/** Roles that work at one centre; the others work at none. */
export const CENTRE_ROLES: readonly StaffRole[] = ['VACCINATOR', 'CENTRE_ADMIN'];
/** The roles a centre admin may create, for their own centre only. */
export const CENTRE_ADMIN_CREATES: readonly StaffRole[] = ['VACCINATOR', 'CENTRE_ADMIN'];
/** Partner secrets: 256 random bits, so the SHA-256 kept of them cannot be reversed. */
export const PARTNER_SECRET_BYTES = 32;

function text(field: string, value: string): string {
  const trimmed = value.normalize('NFKC').trim().replace(/\s+/g, ' ');
  if (trimmed.length < 1 || trimmed.length > TEXT_FIELD_MAX_LENGTH) {
    throw invalidArgument(`${field} must be 1 to ${TEXT_FIELD_MAX_LENGTH} characters`, {
      reason: 'INVALID_TEXT',
    });
  }
  if (findSensitive(trimmed).length > 0) {
    throw invalidArgument(`${field} must not contain a phone or identity number`, {
      reason: 'INVALID_TEXT',
    });
  }
  return trimmed;
}

export function checkReason(reason: string): string {
  const trimmed = reason.trim();
  if (trimmed.length < REASON_LENGTH.min || trimmed.length > REASON_LENGTH.max) {
    throw invalidArgument(
      `reason must be ${REASON_LENGTH.min} to ${REASON_LENGTH.max} characters`,
      { reason: 'INVALID_REASON' },
    );
  }
  if (findSensitive(trimmed).length > 0) {
    throw invalidArgument('reason must not contain a phone or identity number', {
      reason: 'INVALID_REASON',
    });
  }
  return trimmed;
}

export function checkApiLockScope(scope: ApiLockScope | undefined): ApiLockScope {
  const bad = (rule: string) => invalidArgument(rule, { reason: 'INVALID_LOCK_SCOPE' });
  if (!scope) throw bad('scope must name a method, a service, a partner or everything');
  if (scope.kind === 'method' && !METHOD_PATH.test(scope.method)) {
    throw bad('scope.method must be a full method path: /package.Service/Method');
  }
  if (scope.kind === 'service' && !SERVICE_NAME.test(scope.service)) {
    throw bad('scope.service must be a full service name: package.Service');
  }
  if (scope.kind === 'partner' && !ANY_CLIENT_ID.test(scope.clientId)) {
    throw bad('scope.partner_client_id must be a client id');
  }
  return scope;
}

function checkPrincipal(principal: PrincipalRef | undefined): PrincipalRef {
  const format = principal?.kind === 'PARTNER_CLIENT' ? ANY_CLIENT_ID : OPAQUE_ID;
  if (!principal || !format.test(principal.id)) {
    throw invalidArgument('principal must name a staff member or a client application by id', {
      reason: 'INVALID_PRINCIPAL',
    });
  }
  return principal;
}

/** Nobody suspends or reinstates themselves, or the client application they call through. */
function checkNotSelf(actor: AdminActor, principal: PrincipalRef): void {
  const self =
    principal.kind === 'STAFF'
      ? actor.kind === 'staff' && principal.id === actor.staffId
      : principal.id === actor.clientId;
  if (self) {
    throw failedPrecondition(
      principal.kind === 'STAFF'
        ? 'a platform admin cannot suspend or reinstate themselves'
        : 'nobody suspends or reinstates the client application they are calling through',
      { reason: 'SELF_SUSPENSION' },
    );
  }
}

const ADMINS_ONLY = 'only platform admins may do this';

function requirePlatformAdmin(actor: AdminActor): void {
  if (actor.kind !== 'staff' || actor.role !== 'PLATFORM_ADMIN') {
    throw permissionDenied(ADMINS_ONLY, { reason: 'NOT_PLATFORM_ADMIN' });
  }
}

/** Suspensions: platform admins, and the audit service's own principal. */
function requireSuspender(actor: AdminActor): void {
  if (actor.kind === 'service' && actor.scopes.includes(SERVICE_SCOPES.suspendPrincipals)) return;
  requirePlatformAdmin(actor);
}

type Outcome<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: VaxGuardError };

export class PrincipalService {
  private readonly newId: () => string;
  private readonly newSecret: () => string;
  /**
   * A hash to check against when a username does not exist or is locked, so that every
   * refusal costs the same scrypt work as a wrong password and timing reveals nothing.
   */
  private decoyHash: Promise<string> | undefined;

  constructor(private readonly options: PrincipalServiceOptions) {
    this.newId = options.newId ?? randomUUID;
    this.newSecret =
      options.newSecret ?? (() => randomBytes(PARTNER_SECRET_BYTES).toString('base64url'));
  }

  async createCentre(
    actor: AdminActor,
    input: { name: string; district: string; state: string },
  ): Promise<Centre> {
    requirePlatformAdmin(actor);
    const centre: Centre = {
      centreId: `ctr-${this.newId()}`,
      name: text('name', input.name),
      district: text('district', input.district),
      state: text('state', input.state),
    };
    const now = this.options.clock();
    await this.options.store.transaction(async (uow) => {
      await uow.insertCentre(centre);
      await uow.publish({ type: 'centre.created', actor, occurredAt: now, centre });
    });
    return centre;
  }

  async createStaff(
    actor: AdminActor,
    input: {
      username: string;
      displayName: string;
      role: StaffRole | undefined;
      centreId: string;
      mobile: string;
      password: string;
    },
  ): Promise<StaffRecord> {
    if (
      actor.kind !== 'staff' ||
      (actor.role !== 'PLATFORM_ADMIN' && actor.role !== 'CENTRE_ADMIN')
    ) {
      throw permissionDenied('only platform admins and centre admins may create staff', {
        reason: 'NOT_ADMIN',
      });
    }
    const role = input.role;
    if (!role || !STAFF_ROLES.includes(role)) {
      throw invalidArgument('role must be a STAFF_ROLE value', { reason: 'INVALID_ROLE' });
    }
    if (actor.role === 'CENTRE_ADMIN') {
      if (!CENTRE_ADMIN_CREATES.includes(role) || input.centreId !== actor.centreId) {
        throw permissionDenied(
          'a centre admin creates vaccinators and centre admins of their own centre',
          {
            reason: 'OUTSIDE_OWN_CENTRE',
          },
        );
      }
    }
    const username = checkUsername(input.username);
    const displayName = text('display_name', input.displayName);
    const mobile = parseMobile(input.mobile);
    const password = checkStaffPassword(input.password, { username });
    const atCentre = CENTRE_ROLES.includes(role);
    if (atCentre !== (input.centreId !== '')) {
      throw invalidArgument(
        'centre_id is required for vaccinators and centre admins, and refused for other roles',
        { reason: 'INVALID_CENTRE' },
      );
    }
    const staff: NewStaff = {
      staffId: `stf-${this.newId()}`,
      username,
      displayName,
      role,
      centreId: input.centreId,
      mobile,
      mobileIndex: this.options.indexMobile(mobile),
      maskedMobile: maskMobileForDisplay(mobile),
      passwordHash: await this.options.passwords.hash(password),
      failedLogins: 0,
      lastFailedLoginAt: undefined,
    };
    await this.options.store.transaction(async (uow) => {
      if (atCentre && !(await uow.findCentre(staff.centreId))) {
        throw notFound('no such centre', { reason: 'NO_SUCH_CENTRE' });
      }
      const inserted = await uow.insertStaff(staff);
      if (inserted === 'duplicate-username') {
        throw alreadyExists('this username is taken', { reason: 'USERNAME_TAKEN' });
      }
      if (inserted === 'duplicate-mobile') {
        throw alreadyExists("this mobile is already a staff member's", { reason: 'MOBILE_TAKEN' });
      }
      await uow.publish({
        type: 'staff.created',
        actor,
        occurredAt: this.options.clock(),
        staffId: staff.staffId,
        role: staff.role,
        centreId: staff.centreId,
      });
    });
    return staff;
  }

  /**
   * Creates the first platform admin from configuration, once: nothing happens when the
   * username exists. Returns whether it was created. The creation is announced like any
   * other staff member's, as done by `by` (the identity service's own client), so the
   * audit service can name the admin's role in the access histories it shows.
   */
  async bootstrapPlatformAdmin(
    input: {
      username: string;
      displayName: string;
      mobile: Mobile;
      passwordHash: string;
    },
    by: AdminActor,
  ): Promise<boolean> {
    const staff: NewStaff = {
      staffId: `stf-${this.newId()}`,
      username: checkUsername(input.username),
      displayName: input.displayName,
      role: 'PLATFORM_ADMIN',
      centreId: '',
      mobile: input.mobile,
      mobileIndex: this.options.indexMobile(input.mobile),
      maskedMobile: maskMobileForDisplay(input.mobile),
      passwordHash: input.passwordHash,
      failedLogins: 0,
      lastFailedLoginAt: undefined,
    };
    return this.options.store.transaction(async (uow) => {
      if (await uow.findStaffByUsernameForUpdate(staff.username)) return false;
      if ((await uow.insertStaff(staff)) !== 'inserted') return false;
      await uow.publish({
        type: 'staff.created',
        actor: by,
        occurredAt: this.options.clock(),
        staffId: staff.staffId,
        role: staff.role,
        centreId: staff.centreId,
      });
      return true;
    });
  }

  /**
   * Staff sign-in, step 1: the password. When it is right (and the account is neither
   * locked nor suspended), the OTP service sends a STAFF_LOGIN code to the staff member's
   * mobile for the calling client; the confirmed code's token is the session. Any
   * failure gets the same answer, an unknown username included, and is a
   * `staff_login.failed` event (the failure that locks an account also a
   * `staff_login.locked`). A client that has failed at too many usernames this minute
   * is refused before any password is checked, whichever username it names.
   */
  async startLogin(
    client: { clientId: string },
    username: string,
    password: string,
  ): Promise<{ txnId: string; expiresAt: Date }> {
    const refused = unauthenticated('wrong username or password', { reason: 'BAD_LOGIN' });
    // A malformed username names no account and could never match one: nothing to count.
    if (!USERNAME.test(username) || password.length === 0 || password.length > 512) throw refused;
    const now = this.options.clock();
    const windowStart = staffLoginFailureWindowStart(now);
    const usernameIndex = this.options.indexUsername(username);
    const throttled = resourceExhausted(
      `too many failed sign-ins through this client: at most ${STAFF_LOGIN_FAILED_USERNAMES_PER_CLIENT_PER_MINUTE} usernames a minute`,
      windowStart.getTime() + STAFF_LOGIN_FAILURE_WINDOW_MS - now.getTime(),
      { reason: 'STAFF_LOGIN_RATE' },
    );
    const outcome = await this.options.store.transaction(
      async (uow): Promise<Outcome<{ staff: StaffRecord; mobile: Mobile }>> => {
        const staff = await uow.findStaffByUsernameForUpdate(username);
        const failed = (facts: {
          failures: number;
          accountLocked?: boolean;
          clientThrottled?: boolean;
        }) =>
          uow.publish({
            type: 'staff_login.failed',
            clientId: client.clientId,
            occurredAt: now,
            subject: staff
              ? { kind: 'staff', staffId: staff.staffId }
              : { kind: 'unknown-username', usernameIndex },
            accountLocked: false,
            clientThrottled: false,
            ...facts,
          });
        const clientFailures = await uow.countClientSignInFailures(client.clientId, windowStart);
        if (isClientSignInThrottled(clientFailures)) {
          await failed({ failures: staff?.failedLogins ?? 0, clientThrottled: true });
          return { ok: false, error: throttled };
        }
        const lockedUntil =
          staff?.lastFailedLoginAt && staffLockedUntil(staff.failedLogins, staff.lastFailedLoginAt);
        const locked = lockedUntil !== undefined && lockedUntil.getTime() > now.getTime();
        const matches = await this.options.passwords.verify(
          password.normalize('NFKC'),
          staff && !locked ? staff.passwordHash : await this.decoy(),
        );
        if (!staff || locked || !matches) {
          await uow.recordClientSignInFailure(client.clientId, usernameIndex, windowStart);
        }
        if (!staff || locked) {
          await failed({ failures: staff?.failedLogins ?? 0, accountLocked: locked });
          return { ok: false, error: refused };
        }
        if (!matches) {
          const failures = staff.failedLogins + 1;
          await uow.recordLoginFailure(staff.staffId, now);
          await failed({ failures });
          if (staffLockedUntil(failures, now)) {
            await uow.publish({
              type: 'staff_login.locked',
              clientId: client.clientId,
              occurredAt: now,
              staffId: staff.staffId,
              failures,
            });
          }
          return { ok: false, error: refused };
        }
        if (await uow.isSuspended({ kind: 'STAFF', id: staff.staffId })) {
          return { ok: false, error: refused };
        }
        await uow.clearLoginFailures(staff.staffId);
        return { ok: true, value: { staff, mobile: await uow.mobileOfStaff(staff.staffId) } };
      },
    );
    if (!outcome.ok) throw outcome.error;
    const { staff, mobile } = outcome.value;
    return this.options.codes.send({
      mobile,
      staff: { staffId: staff.staffId, role: staff.role, centreId: staff.centreId },
      ownerClientId: client.clientId,
    });
  }

  private decoy(): Promise<string> {
    this.decoyHash ??= this.options.passwords.hash(randomBytes(32).toString('base64'));
    return this.decoyHash;
  }

  async registerPartner(
    actor: AdminActor,
    input: {
      clientId: string;
      displayName: string;
      scopes: readonly string[];
      quotaPerMinute: number;
      consentSmsPerMinute?: number | undefined;
      consentSmsPerDay?: number | undefined;
    },
  ): Promise<{ clientId: string; clientSecret: string }> {
    requirePlatformAdmin(actor);
    if (!CLIENT_ID.test(input.clientId) || isPlatformServiceClient(input.clientId)) {
      throw invalidArgument(
        `client_id must be 3-64 characters of a-z 0-9 . _ -, and not start with ${PLATFORM_SERVICE_CLIENT_PREFIX} (platform services)`,
        { reason: 'INVALID_CLIENT_ID' },
      );
    }
    const scopes = [...new Set(input.scopes)];
    const platformScopes = new Set<string>(Object.values(SERVICE_SCOPES));
    if (scopes.some((scope) => !SCOPE.test(scope) || platformScopes.has(scope))) {
      throw invalidArgument(
        'scopes must be partner scopes (a-z 0-9 : . _ -), never a platform service scope',
        {
          reason: 'INVALID_SCOPE',
        },
      );
    }
    const consentSmsPerMinute = checkConsentSmsQuota(input.consentSmsPerMinute, 'minute');
    const consentSmsPerDay = checkConsentSmsQuota(input.consentSmsPerDay, 'day');
    const clientSecret = this.newSecret();
    const partner: PartnerRecord = {
      clientId: input.clientId,
      displayName: text('display_name', input.displayName),
      secretSha256: this.options.hashSecret(clientSecret),
      scopes,
      quotaPerMinute: checkPartnerQuota(input.quotaPerMinute),
      ...(consentSmsPerMinute === undefined ? {} : { consentSmsPerMinute }),
      ...(consentSmsPerDay === undefined ? {} : { consentSmsPerDay }),
      locked: false,
    };
    const now = this.options.clock();
    await this.options.store.transaction(async (uow) => {
      if ((await uow.insertPartner(partner)) === 'duplicate') {
        throw alreadyExists('this client id is taken', { reason: 'CLIENT_ID_TAKEN' });
      }
      await uow.publish({ type: 'partner.registered', actor, occurredAt: now, partner });
    });
    return { clientId: partner.clientId, clientSecret };
  }

  async setPartnerLocked(
    actor: AdminActor,
    clientId: string,
    locked: boolean,
    reason: string,
  ): Promise<void> {
    requirePlatformAdmin(actor);
    const why = checkReason(reason);
    const now = this.options.clock();
    await this.options.store.transaction(async (uow) => {
      const partner = await uow.findPartnerForUpdate(clientId);
      if (!partner) {
        throw notFound(
          'no such partner; a client configured at a service is stopped with SuspendPrincipal (PRINCIPAL_KIND_PARTNER_CLIENT) or an API lock on its client id',
          { reason: 'NO_SUCH_PARTNER' },
        );
      }
      if (partner.locked === locked) return;
      await uow.setPartnerLocked(clientId, locked);
      await uow.publish({
        type: locked ? 'partner.locked' : 'partner.unlocked',
        actor,
        occurredAt: now,
        partner: { ...partner, locked },
        reason: why,
      });
    });
  }

  /**
   * Suspends or reinstates a staff member or a client application. A staff member must
   * exist; a client application is taken by its id whether or not identity registered
   * it (a client configured at another service is unknown here, and its suspension must
   * reach every service all the same). A platform service's own client needs
   * `confirmPlatformService` (identity-rules.ts).
   */
  async setSuspended(
    actor: AdminActor,
    target: PrincipalRef | undefined,
    suspended: boolean,
    reason: string,
    options: { readonly confirmPlatformService?: boolean } = {},
  ): Promise<void> {
    // Reinstating is for people: the audit service suspends, a platform admin decides.
    if (suspended) requireSuspender(actor);
    else requirePlatformAdmin(actor);
    const principal = checkPrincipal(target);
    const why = checkReason(reason);
    checkNotSelf(actor, principal);
    if (suspended && principal.kind === 'PARTNER_CLIENT') {
      checkPlatformServiceClientStop(principal.id, {
        byPlatformAdmin: actor.kind === 'staff',
        confirmed: options.confirmPlatformService === true,
      });
    }
    const now = this.options.clock();
    await this.options.store.transaction(async (uow) => {
      if (principal.kind === 'STAFF' && !(await uow.findStaff(principal.id))) {
        throw notFound('no such staff member', { reason: 'NO_SUCH_PRINCIPAL' });
      }
      if (!(await uow.setSuspended(principal, suspended, why, now))) return;
      await uow.publish({
        type: suspended ? 'principal.suspended' : 'principal.reinstated',
        actor,
        occurredAt: now,
        principal,
        reason: why,
      });
    });
  }

  async setApiLock(
    actor: AdminActor,
    scope: ApiLockScope | undefined,
    locked: boolean,
    reason: string,
    options: { readonly confirmPlatformService?: boolean } = {},
  ): Promise<void> {
    requirePlatformAdmin(actor);
    const checked = checkApiLockScope(scope);
    const why = checkReason(reason);
    if (locked && checked.kind === 'partner') {
      checkPlatformServiceClientStop(checked.clientId, {
        byPlatformAdmin: true,
        confirmed: options.confirmPlatformService === true,
      });
    }
    const now = this.options.clock();
    await this.options.store.transaction(async (uow) => {
      if (!(await uow.setApiLock(apiLockKey(checked), checked, locked, why, now))) return;
      await uow.publish({
        type: locked ? 'api.locked' : 'api.unlocked',
        actor,
        occurredAt: now,
        scope: checked,
        reason: why,
      });
    });
  }
}

export function checkUsername(username: string): string {
  if (!USERNAME.test(username)) {
    throw invalidArgument(
      'username must be 3-32 characters of a-z 0-9 . _ -, starting with a letter',
      {
        reason: 'INVALID_USERNAME',
      },
    );
  }
  return username;
}
