// `vaxguard lock | unlock`: the kill switch, as the platform admin. A principal (a staff
// member or a partner client) is suspended or reinstated, a partner locked or unlocked,
// an API (one method or one service) or everything locked or cleared. Identity
// replicates each to every service, which enforces it within a second.
import type { Command } from 'commander';
import { callAs, type OperatorClient } from '@vaxguard/dev-operator';
import { identityV1 } from '@vaxguard/proto';
import type { CliCommand, CommandKit } from '../cli';
import type { CommandContext } from '../context';
import { UsageError } from '../errors';
import { methodPath, reason, serviceName } from '../parse';

type Direction = 'lock' | 'unlock';
type Identity = OperatorClient['identity'];

interface Target {
  readonly kind: 'principal' | 'partner' | 'api' | 'all';
  readonly [detail: string]: string;
}

/** Calls identity as the platform admin, and reports what was done. */
async function apply(
  context: CommandContext,
  direction: Direction,
  target: Target,
  why: string,
  call: (identity: Identity, token: string) => Promise<unknown>,
  done: string,
  extra: string[] = [],
) {
  const identity = context.operator().identity;
  await context.asStaff(context.adminCredentials(), (token) => call(identity, token));
  context.result([done, ...extra], { ok: true, action: direction, target, reason: why });
}

const PRINCIPAL_KINDS = {
  staff: identityV1.PrincipalKind.PRINCIPAL_KIND_STAFF,
  partner: identityV1.PrincipalKind.PRINCIPAL_KIND_PARTNER_CLIENT,
} as const;

function principalKind(value: string): keyof typeof PRINCIPAL_KINDS {
  if (value !== 'staff' && value !== 'partner') {
    throw new UsageError('--kind is staff or partner');
  }
  return value;
}

function apiScope(options: { method?: string; service?: string }): identityV1.ApiLockScope {
  if ((options.method === undefined) === (options.service === undefined)) {
    throw new UsageError(
      'name exactly one API: --method <package.Service/Method> or --service <package.Service>',
    );
  }
  return options.method !== undefined
    ? { scope: { $case: 'method', value: options.method } }
    : { scope: { $case: 'service', value: options.service as string } };
}

function register(program: Command, kit: CommandKit, direction: Direction): void {
  const locking = direction === 'lock';
  const top = program
    .command(direction)
    .description(
      locking
        ? 'the kill switch, as the platform admin: suspend a principal, lock a partner, an API or everything'
        : 'undo the kill switch, as the platform admin: reinstate a principal, unlock a partner, an API or everything',
    );
  const withReason = (command: Command) =>
    command.requiredOption(
      '--reason <text>',
      'why, for the record (3-200 characters, no personal data)',
      reason,
    );

  withReason(
    top
      .command('principal')
      .description(
        locking
          ? 'suspend a staff member or partner client: every live token too'
          : 'reinstate a suspended staff member or partner client',
      )
      .argument('<id>', 'the staff id (stf-..., seed shows them) or the partner client id')
      .option('--kind <kind>', 'staff or partner', 'staff'),
  ).action(
    kit.action(async (context, options: { kind: string; reason: string }, id: string) => {
      const kind = principalKind(options.kind);
      const principal = { kind: PRINCIPAL_KINDS[kind], id };
      await apply(
        context,
        direction,
        { kind: 'principal', principalKind: kind, id },
        options.reason,
        (identity, token) =>
          locking
            ? identity.call(
                'suspendPrincipal',
                { principal, reason: options.reason },
                callAs(token),
              )
            : identity.call(
                'reinstatePrincipal',
                { principal, reason: options.reason },
                callAs(token),
              ),
        locking
          ? `suspended ${kind} ${id}: every service refuses it, its live tokens included, within a second`
          : `reinstated ${kind} ${id}`,
      );
    }),
  );

  withReason(
    top
      .command('partner')
      .description(
        locking
          ? 'lock a partner client application: every call it makes is refused'
          : 'unlock a partner client application',
      )
      .argument('<client-id>', 'the partner client id'),
  ).action(
    kit.action(async (context, options: { reason: string }, clientId: string) => {
      await apply(
        context,
        direction,
        { kind: 'partner', clientId },
        options.reason,
        (identity, token) =>
          locking
            ? identity.call('lockPartner', { clientId, reason: options.reason }, callAs(token))
            : identity.call('unlockPartner', { clientId, reason: options.reason }, callAs(token)),
        locking
          ? `locked partner ${clientId}: every service refuses its calls`
          : `unlocked partner ${clientId}`,
      );
    }),
  );

  withReason(
    top
      .command('api')
      .description(
        locking
          ? 'lock one method or one service for every caller'
          : 'clear the lock of one method or one service',
      )
      .option(
        '--method <method>',
        'a method, such as vaxguard.identity.v1.IdentityService/GetBeneficiary',
        methodPath,
      )
      .option('--service <service>', 'a service, such as vaxguard.otp.v1.OtpService', serviceName),
  ).action(
    kit.action(async (context, options: { method?: string; service?: string; reason: string }) => {
      const scope = apiScope(options);
      const named = options.method ?? options.service ?? '';
      await apply(
        context,
        direction,
        { kind: 'api', ...(options.method ? { method: options.method } : { service: named }) },
        options.reason,
        (identity, token) =>
          locking
            ? identity.call('setApiLock', { scope, reason: options.reason }, callAs(token))
            : identity.call('clearApiLock', { scope, reason: options.reason }, callAs(token)),
        locking
          ? `locked ${named}: every service refuses calls to it`
          : `cleared the lock on ${named}`,
      );
    }),
  );

  withReason(
    top
      .command('all')
      .description(
        locking
          ? 'the global lock: every call to every service is refused, sign-in included, except the kill switch itself'
          : 'clear the global lock',
      ),
  ).action(
    kit.action(async (context, options: { reason: string }) => {
      const scope: identityV1.ApiLockScope = { scope: { $case: 'everything', value: true } };
      // Sign-in is locked too: the admin's session, kept beside the description, is what
      // clears the lock, so it is made (or renewed) before the lock is set.
      const session = locking
        ? await context.staffSession(context.adminCredentials(), { minimumLifeMs: 10 * 60_000 })
        : undefined;
      await apply(
        context,
        direction,
        { kind: 'all' },
        options.reason,
        (identity, token) =>
          locking
            ? identity.call('setApiLock', { scope, reason: options.reason }, callAs(token))
            : identity.call('clearApiLock', { scope, reason: options.reason }, callAs(token)),
        locking
          ? 'locked everything: every service refuses every call except the kill switch itself (sign-in too)'
          : 'cleared the global lock',
        session
          ? [
              `clear it with: npx vaxguard unlock all --reason <why> (the platform admin's session, kept until ${session.expiresAt.toISOString()}, is what can: sign-in is locked)`,
            ]
          : [],
      );
    }),
  );
}

export const lockCommands: CliCommand = {
  register(program, kit) {
    register(program, kit, 'lock');
    register(program, kit, 'unlock');
  },
};
