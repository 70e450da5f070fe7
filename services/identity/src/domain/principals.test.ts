import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isVaxGuardError } from '@vaxguard/errors';
import type { Mobile } from '@vaxguard/pii';
import { InMemoryPrincipalStore } from './fakes';
import {
  STAFF_LOGIN_FAILED_USERNAMES_PER_CLIENT_PER_MINUTE,
  STAFF_PASSWORD_MAX_FAILURES,
} from './identity-rules';
import { PrincipalService, type AdminActor, type StaffSignInCodes } from './principals';

const now = new Date('2026-12-01T06:00:00Z');
const admin: AdminActor = {
  kind: 'staff',
  staffId: 'stf-admin',
  role: 'PLATFORM_ADMIN',
  centreId: '',
  clientId: 'admin-console',
};
const auditService: AdminActor = {
  kind: 'service',
  clientId: 'svc-audit',
  scopes: ['principal:suspend'],
};
const PASSWORD = 'correct horse battery';

function setup(clock: () => Date = () => now) {
  const store = new InMemoryPrincipalStore();
  const sent: Parameters<StaffSignInCodes['send']>[0][] = [];
  let ids = 0;
  const service = new PrincipalService({
    store,
    codes: {
      send: async (request) => {
        sent.push(request);
        return { txnId: `txn-${sent.length}`, expiresAt: now };
      },
    },
    // Fast stand-in for scrypt: the domain only needs hash and verify to agree.
    passwords: {
      hash: async (password) => `hashed:${password}`,
      verify: async (password, stored) => stored === `hashed:${password}`,
    },
    clock,
    indexMobile: (mobile) => `idx-${mobile}`,
    indexUsername: usernameIndex,
    hashSecret: (secret) => createHash('sha256').update(secret).digest(),
    newId: () => `id${++ids}`,
    newSecret: () => 'partner-secret-shown-once',
  });
  return { store, service, sent };
}

/** A stand-in for the keyed index: one-way, so the username is not in it. */
const usernameIndex = (username: string) =>
  createHash('sha256').update(`test-key:${username}`).digest('hex');

async function refusal(promise: Promise<unknown>): Promise<[string, string | undefined, string]> {
  try {
    await promise;
  } catch (error) {
    if (isVaxGuardError(error)) return [error.code, error.reason, error.message];
    throw error;
  }
  throw new Error('expected a refusal');
}

const staffInput = (overrides: Partial<Parameters<PrincipalService['createStaff']>[1]> = {}) => ({
  username: 'asha.v',
  displayName: 'Asha V',
  role: 'VACCINATOR' as const,
  centreId: 'ctr-id1',
  mobile: '9876543210',
  password: PASSWORD,
  ...overrides,
});

async function withCentre() {
  const context = setup();
  const centre = await context.service.createCentre(admin, {
    name: 'PHC Andheri',
    district: 'Mumbai Suburban',
    state: 'Maharashtra',
  });
  return { ...context, centre };
}

describe('centres and staff', () => {
  it('lets only platform admins create centres', async () => {
    const { service } = setup();
    const vaccinator = { ...admin, role: 'VACCINATOR' as const, centreId: 'ctr-1' };
    const input = { name: 'PHC', district: 'Pune', state: 'Maharashtra' };
    expect((await refusal(service.createCentre(vaccinator, input))).slice(0, 2)).toEqual([
      'PERMISSION_DENIED',
      'NOT_PLATFORM_ADMIN',
    ]);
    await expect(service.createCentre(admin, input)).resolves.toMatchObject({ name: 'PHC' });
  });

  it('creates a vaccinator at an existing centre, keeping the password only hashed and the mobile masked', async () => {
    const { service, store, centre } = await withCentre();
    const staff = await service.createStaff(admin, staffInput({ centreId: centre.centreId }));
    expect(staff).toMatchObject({ role: 'VACCINATOR', maskedMobile: '******3210' });
    expect(store.staff(staff.staffId)?.passwordHash).toBe(`hashed:${PASSWORD}`);
    const missing = await refusal(
      service.createStaff(
        admin,
        staffInput({ username: 'b.b', mobile: '9876543211', centreId: 'ctr-nowhere' }),
      ),
    );
    expect(missing.slice(0, 2)).toEqual(['NOT_FOUND', 'NO_SUCH_CENTRE']);
  });

  it('binds centre roles to a centre and the others to none', async () => {
    const { service, centre } = await withCentre();
    const noCentre = await refusal(service.createStaff(admin, staffInput({ centreId: '' })));
    expect(noCentre.slice(0, 2)).toEqual(['INVALID_ARGUMENT', 'INVALID_CENTRE']);
    const auditorAtCentre = await refusal(
      service.createStaff(admin, staffInput({ role: 'AUDITOR', centreId: centre.centreId })),
    );
    expect(auditorAtCentre.slice(0, 2)).toEqual(['INVALID_ARGUMENT', 'INVALID_CENTRE']);
    await expect(
      service.createStaff(admin, staffInput({ role: 'AUDITOR', centreId: '' })),
    ).resolves.toMatchObject({ role: 'AUDITOR', centreId: '' });
  });

  it('lets a centre admin create vaccinators for their own centre only', async () => {
    const { service, centre } = await withCentre();
    const centreAdmin: AdminActor = { ...admin, role: 'CENTRE_ADMIN', centreId: centre.centreId };
    await expect(
      service.createStaff(centreAdmin, staffInput({ centreId: centre.centreId })),
    ).resolves.toMatchObject({ role: 'VACCINATOR' });
    const elsewhere = await refusal(
      service.createStaff(
        centreAdmin,
        staffInput({ username: 'c.c', mobile: '9876543212', centreId: 'ctr-other' }),
      ),
    );
    expect(elsewhere.slice(0, 2)).toEqual(['PERMISSION_DENIED', 'OUTSIDE_OWN_CENTRE']);
    const platformAdmin = await refusal(
      service.createStaff(
        centreAdmin,
        staffInput({
          username: 'd.d',
          mobile: '9876543213',
          role: 'PLATFORM_ADMIN',
          centreId: centre.centreId,
        }),
      ),
    );
    expect(platformAdmin.slice(0, 2)).toEqual(['PERMISSION_DENIED', 'OUTSIDE_OWN_CENTRE']);
    const vaccinator: AdminActor = { ...admin, role: 'VACCINATOR', centreId: centre.centreId };
    expect((await refusal(service.createStaff(vaccinator, staffInput()))).slice(0, 2)).toEqual([
      'PERMISSION_DENIED',
      'NOT_ADMIN',
    ]);
  });

  it('announces each new centre, and each new staff member by role and centre only', async () => {
    const { service, store, centre } = await withCentre();
    const staff = await service.createStaff(admin, staffInput({ centreId: centre.centreId }));
    await refusal(service.createStaff(admin, staffInput({ centreId: centre.centreId })));
    const auditor = await service.createStaff(
      admin,
      staffInput({ username: 'a.udit', mobile: '9876543215', role: 'AUDITOR', centreId: '' }),
    );
    expect(store.events).toEqual([
      {
        type: 'centre.created',
        actor: admin,
        occurredAt: now,
        centre: {
          centreId: centre.centreId,
          name: 'PHC Andheri',
          district: 'Mumbai Suburban',
          state: 'Maharashtra',
        },
      },
      {
        type: 'staff.created',
        actor: admin,
        occurredAt: now,
        staffId: staff.staffId,
        role: 'VACCINATOR',
        centreId: centre.centreId,
      },
      {
        type: 'staff.created',
        actor: admin,
        occurredAt: now,
        staffId: auditor.staffId,
        role: 'AUDITOR',
        centreId: '',
      },
    ]);
  });

  it('announces the platform admin bootstrapped from configuration, once, as done by the identity service', async () => {
    const { service, store } = setup();
    const identityService: AdminActor = { kind: 'service', clientId: 'svc-identity', scopes: [] };
    const bootstrap = () =>
      service.bootstrapPlatformAdmin(
        {
          username: 'root.admin',
          displayName: 'Platform admin (bootstrap)',
          mobile: '9876543299' as Mobile,
          passwordHash: `hashed:${PASSWORD}`,
        },
        identityService,
      );
    expect(await bootstrap()).toBe(true);
    expect(await bootstrap()).toBe(false);
    expect(store.events).toEqual([
      {
        type: 'staff.created',
        actor: identityService,
        occurredAt: now,
        staffId: expect.stringMatching(/^stf-/) as unknown,
        role: 'PLATFORM_ADMIN',
        centreId: '',
      },
    ]);
  });

  it('refuses a taken username or mobile, a weak password, and names the rule without echoing', async () => {
    const { service, centre } = await withCentre();
    await service.createStaff(admin, staffInput({ centreId: centre.centreId }));
    const again = staffInput({ centreId: centre.centreId, mobile: '9876543219' });
    expect((await refusal(service.createStaff(admin, again))).slice(0, 2)).toEqual([
      'ALREADY_EXISTS',
      'USERNAME_TAKEN',
    ]);
    const sameMobile = staffInput({ centreId: centre.centreId, username: 'other.one' });
    expect((await refusal(service.createStaff(admin, sameMobile))).slice(0, 2)).toEqual([
      'ALREADY_EXISTS',
      'MOBILE_TAKEN',
    ]);
    const weak = await refusal(
      service.createStaff(
        admin,
        staffInput({
          username: 'e.e',
          mobile: '9876543214',
          centreId: centre.centreId,
          password: 'short',
        }),
      ),
    );
    expect(weak.slice(0, 2)).toEqual(['INVALID_ARGUMENT', 'WEAK_PASSWORD']);
    expect(weak[2]).not.toContain('short');
  });
});

describe('staff sign-in', () => {
  async function withVaccinator() {
    const context = await withCentre();
    const staff = await context.service.createStaff(
      admin,
      staffInput({ centreId: context.centre.centreId }),
    );
    return { ...context, staff };
  }

  it('sends a STAFF_LOGIN code naming the staff member, role and centre when the password is right', async () => {
    const { service, sent, staff, centre } = await withVaccinator();
    await expect(
      service.startLogin({ clientId: 'cowin-vaccinator' }, 'asha.v', PASSWORD),
    ).resolves.toEqual({
      txnId: 'txn-1',
      expiresAt: now,
    });
    expect(sent).toEqual([
      {
        mobile: '9876543210' as Mobile,
        staff: { staffId: staff.staffId, role: 'VACCINATOR', centreId: centre.centreId },
        ownerClientId: 'cowin-vaccinator',
      },
    ]);
  });

  it('answers a wrong password and an unknown username alike, and counts the failure', async () => {
    const { service, sent, store, staff } = await withVaccinator();
    const wrong = await refusal(
      service.startLogin({ clientId: 'app' }, 'asha.v', 'not the password'),
    );
    const unknown = await refusal(service.startLogin({ clientId: 'app' }, 'nobody', PASSWORD));
    expect(wrong).toEqual(unknown);
    expect(wrong.slice(0, 2)).toEqual(['UNAUTHENTICATED', 'BAD_LOGIN']);
    expect(store.staff(staff.staffId)?.failedLogins).toBe(1);
    expect(sent).toEqual([]);
  });

  it(`locks sign-in after ${STAFF_PASSWORD_MAX_FAILURES} wrong passwords, the right one included`, async () => {
    const { service, sent } = await withVaccinator();
    for (let i = 0; i < STAFF_PASSWORD_MAX_FAILURES; i++) {
      await refusal(service.startLogin({ clientId: 'app' }, 'asha.v', `guess ${i}`));
    }
    expect((await refusal(service.startLogin({ clientId: 'app' }, 'asha.v', PASSWORD)))[1]).toBe(
      'BAD_LOGIN',
    );
    expect(sent).toEqual([]);
  });

  it('publishes each failure, by staff id or by the keyed index of an unknown username, with no username or password', async () => {
    const { service, store, staff } = await withVaccinator();
    await refusal(service.startLogin({ clientId: 'app' }, 'asha.v', 'not the password'));
    await refusal(service.startLogin({ clientId: 'app' }, 'nobody.here', PASSWORD));
    const failures = store.events.filter((event) => event.type === 'staff_login.failed');
    expect(failures).toEqual([
      expect.objectContaining({
        clientId: 'app',
        subject: { kind: 'staff', staffId: staff.staffId },
        failures: 1,
        accountLocked: false,
        clientThrottled: false,
      }),
      expect.objectContaining({
        clientId: 'app',
        subject: { kind: 'unknown-username', usernameIndex: usernameIndex('nobody.here') },
        failures: 0,
      }),
    ]);
    const published = JSON.stringify(store.events);
    for (const secret of ['asha.v', 'nobody.here', 'not the password', PASSWORD]) {
      expect(published).not.toContain(secret);
    }
  });

  it('publishes staff_login.locked once, at the failure that locks the account', async () => {
    const { service, store, staff } = await withVaccinator();
    for (let i = 0; i <= STAFF_PASSWORD_MAX_FAILURES; i++) {
      await refusal(service.startLogin({ clientId: 'app' }, 'asha.v', `guess ${i}`));
    }
    expect(store.events.filter((event) => event.type === 'staff_login.locked')).toEqual([
      {
        type: 'staff_login.locked',
        clientId: 'app',
        occurredAt: now,
        staffId: staff.staffId,
        failures: STAFF_PASSWORD_MAX_FAILURES,
      },
    ]);
    const last = store.events.filter((event) => event.type === 'staff_login.failed').at(-1);
    expect(last).toMatchObject({ accountLocked: true, failures: STAFF_PASSWORD_MAX_FAILURES });
  });

  it('refuses a client that failed at too many usernames this minute, alike for any username, until the minute ends', async () => {
    let clock = new Date('2026-12-01T06:00:20Z');
    const context = setup(() => clock);
    const centre = await context.service.createCentre(admin, {
      name: 'PHC Andheri',
      district: 'Mumbai Suburban',
      state: 'Maharashtra',
    });
    await context.service.createStaff(admin, staffInput({ centreId: centre.centreId }));
    const { service, store, sent } = context;
    const sprayer = { clientId: 'portal' };
    for (let i = 0; i < STAFF_LOGIN_FAILED_USERNAMES_PER_CLIENT_PER_MINUTE; i++) {
      expect((await refusal(service.startLogin(sprayer, `user${i}`, 'Summer2026!'))).at(1)).toBe(
        'BAD_LOGIN',
      );
    }
    const throttled = async (username: string, password: string) => {
      try {
        await service.startLogin(sprayer, username, password);
      } catch (error) {
        if (isVaxGuardError(error))
          return [error.code, error.reason, error.message, error.retryAfterMs];
      }
      throw new Error('expected a refusal');
    };
    const known = await throttled('asha.v', PASSWORD);
    const unknown = await throttled('nobody.here', 'Summer2026!');
    expect(known).toEqual(unknown);
    expect(known.slice(0, 2)).toEqual(['RESOURCE_EXHAUSTED', 'STAFF_LOGIN_RATE']);
    expect(known[3]).toBe(40_000);
    expect(sent).toEqual([]);
    expect(
      store.events.filter((event) => event.type === 'staff_login.failed').at(-1),
    ).toMatchObject({
      clientThrottled: true,
      subject: { kind: 'unknown-username' },
    });
    // Another client is not held back, and the sprayer is served again next minute.
    await expect(
      service.startLogin({ clientId: 'other' }, 'asha.v', PASSWORD),
    ).resolves.toBeDefined();
    clock = new Date('2026-12-01T06:01:00Z');
    await expect(service.startLogin(sprayer, 'asha.v', PASSWORD)).resolves.toBeDefined();
  });

  it('counts one username failing again and again once towards the client limit', async () => {
    const { service } = await withVaccinator();
    const client = { clientId: 'portal' };
    for (let i = 0; i < STAFF_PASSWORD_MAX_FAILURES - 1; i++) {
      await refusal(service.startLogin(client, 'asha.v', `typo ${i}`));
    }
    for (let i = 0; i < STAFF_LOGIN_FAILED_USERNAMES_PER_CLIENT_PER_MINUTE - 2; i++) {
      await refusal(service.startLogin(client, `user${i}`, 'not the password'));
    }
    await expect(service.startLogin(client, 'asha.v', PASSWORD)).resolves.toBeDefined();
  });

  it('refuses a suspended staff member, and lets them in again once reinstated', async () => {
    const { service, staff } = await withVaccinator();
    const principal = { kind: 'STAFF' as const, id: staff.staffId };
    await service.setSuspended(admin, principal, true, 'bulk reads at night');
    expect((await refusal(service.startLogin({ clientId: 'app' }, 'asha.v', PASSWORD)))[1]).toBe(
      'BAD_LOGIN',
    );
    await service.setSuspended(admin, principal, false, 'reviewed: shift change');
    await expect(
      service.startLogin({ clientId: 'app' }, 'asha.v', PASSWORD),
    ).resolves.toBeDefined();
  });
});

describe('partners and the kill switch', () => {
  it('registers a partner: the secret is returned once and kept only as its hash', async () => {
    const { service, store } = setup();
    const registered = await service.registerPartner(admin, {
      clientId: 'aarogya-setu',
      displayName: 'Aarogya Setu',
      scopes: ['beneficiary:demographics'],
      quotaPerMinute: 600,
      consentSmsPerMinute: 200,
      consentSmsPerDay: undefined,
    });
    expect(registered).toEqual({
      clientId: 'aarogya-setu',
      clientSecret: 'partner-secret-shown-once',
    });
    const [event] = store.events;
    expect(event).toMatchObject({
      type: 'partner.registered',
      partner: { quotaPerMinute: 600, consentSmsPerMinute: 200, locked: false },
    });
    // A quota not given is not stored: the default applies, and follows it if it changes.
    expect(event?.type === 'partner.registered' && 'consentSmsPerDay' in event.partner).toBe(false);
    expect(JSON.stringify(store.events)).not.toContain('partner-secret-shown-once');
  });

  it('refuses platform scopes, service-like ids and quotas out of range', async () => {
    const { service } = setup();
    const base = { clientId: 'umang', displayName: 'UMANG', scopes: [], quotaPerMinute: 100 };
    for (const [input, reason] of [
      [{ ...base, scopes: ['otp:on-behalf'] }, 'INVALID_SCOPE'],
      [{ ...base, clientId: 'svc-identity' }, 'INVALID_CLIENT_ID'],
      [{ ...base, quotaPerMinute: 0 }, 'INVALID_PARTNER_QUOTA'],
      [{ ...base, consentSmsPerMinute: 0 }, 'INVALID_PARTNER_QUOTA'],
      [{ ...base, consentSmsPerDay: 2.5 }, 'INVALID_PARTNER_QUOTA'],
    ] as const) {
      expect((await refusal(service.registerPartner(admin, input)))[1]).toBe(reason);
    }
  });

  it('lets the audit service suspend but only platform admins reinstate', async () => {
    const { service, centre } = await withCentre();
    const staff = await service.createStaff(admin, staffInput({ centreId: centre.centreId }));
    const principal = { kind: 'STAFF' as const, id: staff.staffId };
    await service.setSuspended(auditService, principal, true, 'rule STAFF_DISTINCT_READS_HOUR');
    const reinstate = await refusal(service.setSuspended(auditService, principal, false, 'auto'));
    expect(reinstate.slice(0, 2)).toEqual(['PERMISSION_DENIED', 'NOT_PLATFORM_ADMIN']);
    const partnerApp: AdminActor = { kind: 'service', clientId: 'umang', scopes: [] };
    expect((await refusal(service.setSuspended(partnerApp, principal, true, 'nope')))[0]).toBe(
      'PERMISSION_DENIED',
    );
  });

  it('records each change once, with a reason free of personal data', async () => {
    const { service, store } = setup();
    const scope = {
      kind: 'method',
      method: '/vaxguard.identity.v1.IdentityService/GetBeneficiary',
    } as const;
    await service.setApiLock(admin, scope, true, 'incident 42');
    await service.setApiLock(admin, scope, true, 'incident 42 again');
    await service.setApiLock(admin, scope, false, 'resolved');
    expect(store.events.map((event) => event.type)).toEqual(['api.locked', 'api.unlocked']);
    const pii = await refusal(
      service.setApiLock(admin, scope, true, 'caller 9876543210 abused it'),
    );
    expect(pii.slice(0, 2)).toEqual(['INVALID_ARGUMENT', 'INVALID_REASON']);
    expect(pii[2]).not.toContain('9876543210');
  });

  it('refuses malformed lock scopes and unknown principals', async () => {
    const { service } = setup();
    for (const scope of [
      undefined,
      { kind: 'method', method: 'GetBeneficiary' },
      { kind: 'service', service: 'not a service' },
    ] as const) {
      expect((await refusal(service.setApiLock(admin, scope, true, 'test')))[1]).toBe(
        'INVALID_LOCK_SCOPE',
      );
    }
    const unknown = await refusal(
      service.setSuspended(admin, { kind: 'STAFF', id: 'stf-nobody' }, true, 'test'),
    );
    expect(unknown.slice(0, 2)).toEqual(['NOT_FOUND', 'NO_SUCH_PRINCIPAL']);
    const malformed = await refusal(
      service.setSuspended(admin, { kind: 'PARTNER_CLIENT', id: 'Not A Client' }, true, 'test'),
    );
    expect(malformed.slice(0, 2)).toEqual(['INVALID_ARGUMENT', 'INVALID_PRINCIPAL']);
  });

  it('suspends a client application identity never registered (configured at a service), by its id, and publishes it', async () => {
    const { service, store } = setup();
    const portal = { kind: 'PARTNER_CLIENT' as const, id: 'demo-portal' };
    await service.setSuspended(auditService, portal, true, 'OTP_REQUEST_FLOOD');
    await service.setSuspended(auditService, portal, true, 'OTP_REQUEST_FLOOD again');
    await service.setSuspended(admin, portal, false, 'secret rotated');
    expect(
      store.events.map((event) => [
        event.type,
        'principal' in event ? event.principal : undefined,
        'actor' in event ? event.actor.clientId : event.clientId,
      ]),
    ).toEqual([
      ['principal.suspended', portal, 'svc-audit'],
      ['principal.reinstated', portal, 'admin-console'],
    ]);
  });

  it("stops a platform service's own client only when a platform admin confirms it, never automatically", async () => {
    const { service, store } = setup();
    const identityClient = { kind: 'PARTNER_CLIENT' as const, id: 'svc-identity' };
    const unconfirmed = await refusal(service.setSuspended(admin, identityClient, true, 'drill'));
    expect(unconfirmed.slice(0, 2)).toEqual(['FAILED_PRECONDITION', 'PLATFORM_SERVICE_CLIENT']);
    const automatic = await refusal(
      service.setSuspended(auditService, identityClient, true, 'OTP_REQUEST_FLOOD', {
        confirmPlatformService: true,
      }),
    );
    expect(automatic.slice(0, 2)).toEqual(['FAILED_PRECONDITION', 'PLATFORM_SERVICE_CLIENT']);
    const lock = { kind: 'partner', clientId: 'svc-identity' } as const;
    const unconfirmedLock = await refusal(service.setApiLock(admin, lock, true, 'drill'));
    expect(unconfirmedLock.slice(0, 2)).toEqual(['FAILED_PRECONDITION', 'PLATFORM_SERVICE_CLIENT']);
    expect(store.events).toEqual([]);
    await service.setSuspended(admin, identityClient, true, 'credential leaked', {
      confirmPlatformService: true,
    });
    await service.setApiLock(admin, lock, true, 'credential leaked', {
      confirmPlatformService: true,
    });
    // Undoing needs no confirmation.
    await service.setSuspended(admin, identityClient, false, 'secret rotated');
    await service.setApiLock(admin, lock, false, 'secret rotated');
    expect(store.events.map((event) => event.type)).toEqual([
      'principal.suspended',
      'api.locked',
      'principal.reinstated',
      'api.unlocked',
    ]);
  });

  it('refuses to suspend the client application the caller calls through', async () => {
    const { service } = setup();
    const own = await refusal(
      service.setSuspended(admin, { kind: 'PARTNER_CLIENT', id: admin.clientId }, true, 'oops'),
    );
    expect(own.slice(0, 2)).toEqual(['FAILED_PRECONDITION', 'SELF_SUSPENSION']);
  });

  it('locks and unlocks a partner, publishing its new state', async () => {
    const { service, store } = setup();
    await service.registerPartner(admin, {
      clientId: 'umang',
      displayName: 'UMANG',
      scopes: [],
      quotaPerMinute: 10,
    });
    await service.setPartnerLocked(admin, 'umang', true, 'credential leaked');
    await service.setPartnerLocked(admin, 'umang', false, 'secret rotated');
    expect(
      store.events.map((event) => [
        event.type,
        'partner' in event ? event.partner.locked : undefined,
      ]),
    ).toEqual([
      ['partner.registered', false],
      ['partner.locked', true],
      ['partner.unlocked', false],
    ]);
  });
});
