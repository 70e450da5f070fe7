// In-memory stand-ins for the OTP domain's ports, for unit tests.
import {
  type DeliveryRefused,
  ClientQuotaFull,
  type ClientQuotaCheck,
  type IssuedToken,
  type MobileGuard,
  type OtpDelivery,
  type OtpEvent,
  type OtpMessage,
  type OtpStore,
  type OtpTransaction,
  type OtpUnitOfWork,
  type SendRecord,
  type TokenSigner,
} from './model';
import { grantInForce } from './otp-rules';

interface State {
  transactions: Map<string, OtpTransaction>;
  /** Each send with the client-quota bucket it is counted in. */
  sends: (SendRecord & { clientBucket: Date })[];
  guards: Map<string, MobileGuard>;
  tokens: Map<string, IssuedToken>;
  events: OtpEvent[];
}

/** A send whose client quota is checked when its transaction commits. */
interface ClientCheck {
  readonly clientId: string;
  readonly check: ClientQuotaCheck;
}

/** A store whose transactions commit when the work resolves and leave no trace when it throws. */
export class InMemoryOtpStore implements OtpStore {
  private state: State = {
    transactions: new Map(),
    sends: [],
    guards: new Map(),
    tokens: new Map(),
    events: [],
  };
  readonly lockCalls: [string, string][] = [];

  get events(): readonly OtpEvent[] {
    return this.state.events;
  }
  get sends(): readonly State['sends'][number][] {
    return this.state.sends;
  }
  transactionById(txnId: string): OtpTransaction | undefined {
    return this.state.transactions.get(txnId);
  }
  guard(mobileIndex: string): MobileGuard | undefined {
    return this.state.guards.get(mobileIndex);
  }
  token(tokenId: string): IssuedToken | undefined {
    return this.state.tokens.get(tokenId);
  }

  async transaction<T>(work: (uow: OtpUnitOfWork) => Promise<T>): Promise<T> {
    const draft: State = {
      transactions: new Map(this.state.transactions),
      sends: [...this.state.sends],
      guards: new Map(this.state.guards),
      tokens: new Map(this.state.tokens),
      events: [...this.state.events],
    };
    const clientChecks: ClientCheck[] = [];
    const result = await work(this.unitOfWork(draft, clientChecks));
    // As PostgreSQL does at commit: each send's client quota, against what is committed.
    for (const { clientId, check } of clientChecks) {
      this.lockCalls.push(['client', clientId]);
      const counted = this.state.sends
        .filter((send) => send.clientId === clientId && send.clientBucket > check.countedAfter)
        .sort((a, b) => b.clientBucket.getTime() - a.clientBucket.getTime());
      const nth = counted[check.limit - 1];
      if (nth) throw new ClientQuotaFull(nth.clientBucket);
    }
    this.state = draft;
    return result;
  }

  private unitOfWork(s: State, clientChecks: ClientCheck[]): OtpUnitOfWork {
    const guardOf = (mobileIndex: string): MobileGuard =>
      s.guards.get(mobileIndex) ?? { consecutiveFailures: 0, lockedUntil: undefined };
    return {
      holdMobileQuota: async (mobileIndex, windows) => {
        this.lockCalls.push(['mobile', mobileIndex]);
        const nthMostRecent = windows.map(
          ({ since, n }) =>
            s.sends
              .filter((send) => send.mobileIndex === mobileIndex && send.sentAt > since)
              .sort((a, b) => b.sentAt.getTime() - a.sentAt.getTime())[n - 1]?.sentAt,
        );
        return { guard: guardOf(mobileIndex), nthMostRecent };
      },
      recordSend: async (send, check) => {
        s.sends.push({ ...send, clientBucket: check.bucket });
        clientChecks.push({ clientId: send.clientId, check });
      },
      mobileGuard: async (mobileIndex) => guardOf(mobileIndex),
      recordFailure: async (mobileIndex) => {
        const guard = guardOf(mobileIndex);
        const consecutiveFailures = guard.consecutiveFailures + 1;
        s.guards.set(mobileIndex, { ...guard, consecutiveFailures });
        return consecutiveFailures;
      },
      lockMobile: async (mobileIndex, until) =>
        void s.guards.set(mobileIndex, { consecutiveFailures: 0, lockedUntil: until }),
      clearFailures: async (mobileIndex) =>
        void s.guards.set(mobileIndex, { ...guardOf(mobileIndex), consecutiveFailures: 0 }),
      insertTransaction: async (txn) => void s.transactions.set(txn.txnId, txn),
      findTransactionForUpdate: async (txnId) => s.transactions.get(txnId),
      updateTransaction: async (txn) => void s.transactions.set(txn.txnId, txn),
      recordIssuedToken: async (token) => void s.tokens.set(token.tokenId, token),
      findIssuedTokenForUpdate: async (tokenId) => s.tokens.get(tokenId),
      markTokenRevoked: async (tokenId, at) => {
        const token = s.tokens.get(tokenId);
        if (token) s.tokens.set(tokenId, { ...token, revokedAt: at });
      },
      grantsInForce: async (mobileIndex, now) =>
        [...s.tokens.values()]
          .filter((token) => token.grant?.mobileIndex === mobileIndex && grantInForce(token, now))
          .sort((a, b) => b.issuedAt.getTime() - a.issuedAt.getTime())
          .map((token) => ({
            grantId: token.tokenId,
            clientId: token.clientId,
            purpose: token.purpose,
            consent: token.grant!.consent,
            issuedAt: token.issuedAt,
            expiresAt: token.expiresAt,
          })),
      publish: async (event) => void s.events.push(event),
    };
  }
}

/** Keeps every message "sent", so a test can read the code as a phone would. */
export class FakeDelivery implements OtpDelivery {
  readonly messages: OtpMessage[] = [];
  failNext = false;
  /** The gateway's refusal of the next message, if any. */
  refuseNext: DeliveryRefused | undefined;

  async deliver(message: OtpMessage): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('gateway down');
    }
    const refusal = this.refuseNext;
    if (refusal) {
      this.refuseNext = undefined;
      throw refusal;
    }
    this.messages.push(message);
  }

  lastCode(txnId: string): string {
    const message = this.messages.filter((m) => m.txnId === txnId).at(-1);
    if (!message) throw new Error(`no message for ${txnId}`);
    return message.code;
  }
}

/** Signs nothing: returns the claims it was given, readable, under a fixed key id. */
export class FakeSigner implements TokenSigner {
  async sign(
    claims: Parameters<TokenSigner['sign']>[0],
  ): Promise<{ token: string; keyId: string }> {
    return { token: `fake.${claims.tokenId}`, keyId: 'fake-key' };
  }
}

/** A clock that moves only when told. */
export class ManualClock {
  private current: number;
  constructor(start = new Date('2026-11-22T10:00:00Z')) {
    this.current = start.getTime();
  }
  readonly now = (): Date => new Date(this.current);
  advance(ms: number): void {
    this.current += ms;
  }
}
