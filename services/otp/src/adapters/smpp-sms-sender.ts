import smpp, { type Pdu, type Session } from 'smpp';
import type { Logger } from '@vaxguard/logging';
import { DeliveryRefused, type Clock, type OtpDelivery, type OtpMessage } from '../domain/model';
import { otpSmsText } from '../domain/otp-rules';
import type { SmsDeliveryRecords } from './pg-sms-deliveries';

/**
 * The DLT identifiers Indian operators require on every commercial SMS, carried as
 * vendor-specific TLVs of submit_sm (SMPP 3.4 §5.3: tags 0x1400-0x3FFF are the
 * vendor's), each an octet string of its digits. The tags are those of the operators'
 * "DLT - Specification for SMPP Interface" (v1.1, 2020, which Indian SMS centres
 * publish): PE_ID 0x1400 (the principal entity) and TEMPLATE_ID 0x1401 (the content
 * template); 0x1402 (TELEMARKETER_ID) is set by a telemarketer's own platform, not here.
 */
export const DLT_PE_ID_TAG = 0x1400;
export const DLT_TEMPLATE_ID_TAG = 0x1401;

// SMPP 3.4 command statuses (§5.1.3) the sender acts on.
const ESME_ROK = 0x00;
const ESME_RINVDSTADR = 0x0b;
const ESME_RMSGQFUL = 0x14;
const ESME_RTHROTTLED = 0x58;
/** Statuses that say "not now": the submit was refused whole and may be sent again. */
const TRY_LATER = new Set([ESME_RTHROTTLED, ESME_RMSGQFUL]);

// Addressing: the registered header is alphanumeric (TON 5, NPI 0); the mobile is
// sent in international form, +91 then its 10 digits (TON 1 international, NPI 1 E.164).
const TON_ALPHANUMERIC = 5;
const TON_INTERNATIONAL = 1;
const NPI_UNKNOWN = 0;
const NPI_E164 = 1;
const INDIA_COUNTRY_CODE = '91';
/** registered_delivery: a receipt for the final outcome, delivered or failed (§5.2.17). */
const RECEIPT_ON_FINAL_OUTCOME = 0x01;
/** esm_class bits 2-5 set to 0001: this deliver_sm is a delivery receipt (§5.2.12). */
const ESM_RECEIPT_MASK = 0x3c;
const ESM_DELIVERY_RECEIPT = 0x04;
/** data_coding 0: the centre's default alphabet, which the ASCII text maps onto. */
const DATA_CODING_DEFAULT = 0x00;
const SMPP_VERSION_3_4 = 0x34;
/** message_state (§5.3.2.35) by number, as delivery receipts report it. */
const MESSAGE_STATES = [
  'SCHEDULED',
  'ENROUTE',
  'DELIVRD',
  'EXPIRED',
  'DELETED',
  'UNDELIV',
  'ACCEPTD',
  'UNKNOWN',
  'REJECTD',
];

/** Reconnection: exponential back-off with full jitter, from 250 ms to 30 s. */
export const RECONNECT_INITIAL_MS = 250;
export const RECONNECT_MAX_MS = 30_000;
/** After ESME_RTHROTTLED: wait, doubling from 100 ms up to 2 s, within the submit's time. */
export const THROTTLED_INITIAL_MS = 100;
export const THROTTLED_MAX_MS = 2_000;
/** How long an unbind may take at shutdown before the connection is simply closed. */
const UNBIND_WAIT_MS = 1_000;

export interface SmppSenderOptions {
  readonly host: string;
  readonly port: number;
  readonly systemId: string;
  readonly password: string;
  readonly systemType: string;
  /** The registered sender header (source_addr). */
  readonly senderId: string;
  readonly principalEntityId: string;
  readonly contentTemplateId: string;
  /** The registered content template's text, `{code}` where the code goes. */
  readonly messageText: string;
  /** Submits awaiting their response at once: the window the operator grants. */
  readonly window: number;
  readonly maxSubmitsPerSecond: number;
  readonly enquireLinkMs: number;
  /**
   * How long one code may take, from deliver() to the centre's answer: waiting for a
   * connection, a window slot, throttled retries and the response.
   */
  readonly submitTimeoutMs: number;
  readonly records: SmsDeliveryRecords;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly random?: () => number;
}

type SubmitOutcome =
  | { readonly kind: 'accepted'; readonly messageId: string }
  | { readonly kind: 'refused'; readonly status: number }
  /** Never handed to a connection: nothing left, it may be sent. */
  | { readonly kind: 'not-written' }
  /** Handed to a connection and never answered: it may have been taken. */
  | { readonly kind: 'unconfirmed'; readonly why: string };

/**
 * The OTP sender over SMPP 3.4 to an operator's SMS centre: one transceiver session
 * (submits out, delivery receipts in), kept alive by enquire_link and re-bound with
 * back-off when lost; at most `window` submits in flight and `maxSubmitsPerSecond`
 * started a second. A submit refused with ESME_RTHROTTLED (or a full queue) is sent
 * again after a back-off; ESME_RINVDSTADR is a refusal for good.
 *
 * A submit that was handed to the connection and never answered (the line dropped, or
 * no response in time) is NOT sent again: submit_sm has no idempotency key, the centre
 * may have taken it, and a second copy would be a second SMS. deliver() then resolves
 * (the code may well be on its way) and the user's resend, after the cooldown, covers
 * a code that never arrives. A submit not yet handed over when the line dropped waits
 * for the new session and goes then: nothing is lost, nothing sent twice.
 *
 * Logs name the transaction and the centre's message id; never the number or the code.
 */
export class SmppSmsSender implements OtpDelivery {
  private session: Session | undefined;
  private bound = false;
  private stopped = false;
  private reconnectAttempts = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private bindTimer: NodeJS.Timeout | undefined;
  private enquireTimer: NodeJS.Timeout | undefined;
  private enquirePending = false;
  private inFlight = 0;
  private nextSubmitAt = 0;
  /** Submits handed to the current connection, to settle as unconfirmed if it drops. */
  private readonly awaitingResponse = new Set<(why: string) => void>();
  private readonly waiting = new Set<() => void>();
  private readonly clock: Clock;
  private readonly random: () => number;

  constructor(private readonly options: SmppSenderOptions) {
    this.clock = options.clock ?? (() => new Date());
    this.random = options.random ?? Math.random;
    registerDltTlvs();
  }

  /** Connects and binds; later losses are re-bound by themselves until stop(). */
  start(): void {
    this.connect();
  }

  /** What the sender is doing, for tests and diagnostics. */
  state(): { readonly bound: boolean; readonly inFlight: number; readonly waiting: number } {
    return { bound: this.bound, inFlight: this.inFlight, waiting: this.waiting.size };
  }

  async deliver(message: OtpMessage): Promise<void> {
    const deadline = Date.now() + this.options.submitTimeoutMs;
    const log = this.options.logger.child({ txnId: message.txnId });
    let backoffMs = THROTTLED_INITIAL_MS;
    for (;;) {
      const session = await this.slot(deadline, log);
      const outcome = await this.submit(session, message, deadline);
      switch (outcome.kind) {
        case 'accepted':
          log.info('SMS centre took the code', { messageId: outcome.messageId });
          await this.options.records
            .submitted({
              messageId: outcome.messageId,
              txnId: message.txnId,
              submittedAt: this.clock(),
            })
            .catch((error: unknown) =>
              log.error('delivery record not written', {
                messageId: outcome.messageId,
                err: error,
              }),
            );
          return;
        case 'unconfirmed':
          log.warn('SMS centre did not answer a submit; not sent again (the user may resend)', {
            why: outcome.why,
          });
          return;
        case 'not-written':
          continue;
        case 'refused': {
          const status = statusName(outcome.status);
          if (outcome.status === ESME_RINVDSTADR) {
            log.warn('SMS centre refuses the destination', { status });
            throw new DeliveryRefused(true, status);
          }
          if (!TRY_LATER.has(outcome.status)) {
            log.error('SMS centre refused a submit', { status });
            throw new DeliveryRefused(false, status);
          }
          if (Date.now() + backoffMs >= deadline) {
            log.warn('SMS centre still throttling when the submit ran out of time', { status });
            throw new DeliveryRefused(false, status);
          }
          log.debug('SMS centre throttled a submit; trying again', { status, backoffMs });
          await sleep(backoffMs);
          backoffMs = Math.min(backoffMs * 2, THROTTLED_MAX_MS);
        }
      }
    }
  }

  /** Unbinds (briefly) and closes; submits still waiting for a connection are refused. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.bindTimer);
    clearInterval(this.enquireTimer);
    this.wake();
    const session = this.session;
    if (!session) return;
    if (this.bound) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, UNBIND_WAIT_MS);
        if (!session.unbind({}, () => (clearTimeout(timer), resolve()))) {
          clearTimeout(timer);
          resolve();
        }
      });
    }
    await new Promise<void>((resolve) => session.destroy(resolve));
  }

  /**
   * Waits until a bound session has room in the window and the rate allows another
   * submit, then takes that room (released when the submit settles).
   */
  private async slot(deadline: number, log: Logger): Promise<Session> {
    for (;;) {
      if (this.stopped) throw new DeliveryRefused(false, 'SENDER_STOPPED');
      const now = Date.now();
      const session = this.session;
      if (this.bound && session && this.inFlight < this.options.window) {
        if (now >= this.nextSubmitAt) {
          this.inFlight++;
          this.nextSubmitAt =
            Math.max(now, this.nextSubmitAt) + 1000 / this.options.maxSubmitsPerSecond;
          return session;
        }
      }
      if (now >= deadline) {
        log.warn('no SMS centre session had room in time; nothing was sent', {
          bound: this.bound,
          inFlight: this.inFlight,
        });
        throw new DeliveryRefused(false, this.bound ? 'SMSC_WINDOW_FULL' : 'SMSC_UNREACHABLE');
      }
      const rateWait =
        this.bound && this.inFlight < this.options.window ? this.nextSubmitAt - now : Infinity;
      await this.changeOrTimeout(Math.min(deadline - now, rateWait));
    }
  }

  private submit(session: Session, message: OtpMessage, deadline: number): Promise<SubmitOutcome> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (outcome: SubmitOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.awaitingResponse.delete(lost);
        this.inFlight--;
        this.wake();
        resolve(outcome);
      };
      const lost = (why: string): void => settle({ kind: 'unconfirmed', why });
      const timer = setTimeout(
        () => lost('no response in time'),
        Math.max(0, deadline - Date.now()),
      );
      const pdu = new smpp.PDU('submit_sm', {
        service_type: '',
        source_addr_ton: TON_ALPHANUMERIC,
        source_addr_npi: NPI_UNKNOWN,
        source_addr: this.options.senderId,
        dest_addr_ton: TON_INTERNATIONAL,
        dest_addr_npi: NPI_E164,
        destination_addr: `${INDIA_COUNTRY_CODE}${message.mobile}`,
        registered_delivery: RECEIPT_ON_FINAL_OUTCOME,
        // The centre gives up on the code when it expires: a late code is useless.
        validity_period: message.expiresAt,
        data_coding: DATA_CODING_DEFAULT,
        short_message: Buffer.from(otpSmsText(this.options.messageText, message.code), 'ascii'),
        dlt_pe_id: this.options.principalEntityId,
        dlt_template_id: this.options.contentTemplateId,
      });
      const written = session.send(pdu, (response) =>
        settle(
          response.command_status === ESME_ROK
            ? { kind: 'accepted', messageId: textOf(response['message_id']) }
            : { kind: 'refused', status: response.command_status },
        ),
      );
      if (written) this.awaitingResponse.add(lost);
      else settle({ kind: 'not-written' });
    });
  }

  private connect(): void {
    if (this.stopped) return;
    const { host, port, logger } = this.options;
    const session = smpp.connect({ host, port });
    this.session = session;
    // A connection that hangs, or a bind never answered, is given up after an interval.
    clearTimeout(this.bindTimer);
    this.bindTimer = setTimeout(() => {
      if (this.session !== session || this.bound) return;
      logger.warn('SMS centre did not answer the bind in time; reconnecting');
      session.destroy();
    }, this.options.enquireLinkMs);
    session.on('connect', () => {
      session.bind_transceiver(
        {
          system_id: this.options.systemId,
          password: this.options.password,
          system_type: this.options.systemType,
          interface_version: SMPP_VERSION_3_4,
        },
        (response) => {
          if (response.command_status !== ESME_ROK) {
            logger.error('SMS centre refused the bind', {
              status: statusName(response.command_status),
            });
            session.destroy();
            return;
          }
          this.onBound(session);
        },
      );
    });
    session.on('deliver_sm', (pdu: Pdu) => this.onDeliverSm(session, pdu));
    session.on('enquire_link', (pdu: Pdu) => session.send(pdu.response()));
    session.on('unbind', (pdu: Pdu) => {
      session.send(pdu.response());
      session.close();
    });
    // A socket error closes the socket; a PDU the library cannot read leaves it open but
    // deaf (it stops reading), so either way the session is ended and bound again.
    session.on('error', (error: Error) => {
      logger.debug('SMS centre connection error', { err: error.message });
      session.destroy();
    });
    session.on('close', () => this.onClosed(session));
  }

  private onBound(session: Session): void {
    if (this.session !== session) return;
    clearTimeout(this.bindTimer);
    this.bound = true;
    this.reconnectAttempts = 0;
    this.enquirePending = false;
    this.options.logger.info('bound to the SMS centre', {
      host: this.options.host,
      port: this.options.port,
      bind: 'transceiver',
    });
    clearInterval(this.enquireTimer);
    this.enquireTimer = setInterval(() => this.keepAlive(session), this.options.enquireLinkMs);
    this.wake();
  }

  /** enquire_link each interval; one unanswered for a whole interval means a dead link. */
  private keepAlive(session: Session): void {
    if (this.enquirePending) {
      this.options.logger.warn('SMS centre did not answer enquire_link; reconnecting');
      session.destroy();
      return;
    }
    this.enquirePending = true;
    session.enquire_link({}, () => {
      this.enquirePending = false;
    });
  }

  private onClosed(session: Session): void {
    if (this.session !== session) return;
    const wasBound = this.bound;
    this.session = undefined;
    this.bound = false;
    clearTimeout(this.bindTimer);
    clearInterval(this.enquireTimer);
    const unanswered = this.awaitingResponse.size;
    for (const lost of [...this.awaitingResponse]) lost('connection lost before the response');
    this.awaitingResponse.clear();
    if (this.stopped) return;
    const ceiling = Math.min(RECONNECT_MAX_MS, RECONNECT_INITIAL_MS * 2 ** this.reconnectAttempts);
    const delayMs = Math.floor(this.random() * ceiling);
    this.reconnectAttempts++;
    this.options.logger[wasBound ? 'warn' : 'debug']('SMS centre connection lost; reconnecting', {
      unanswered,
      waiting: this.waiting.size,
      reconnectInMs: delayMs,
    });
    this.reconnectTimer = setTimeout(() => this.connect(), delayMs);
  }

  private onDeliverSm(session: Session, pdu: Pdu): void {
    session.send(pdu.response());
    const esmClass = Number(pdu['esm_class'] ?? 0);
    if ((esmClass & ESM_RECEIPT_MASK) !== ESM_DELIVERY_RECEIPT) return;
    const receipt = readReceipt(pdu);
    if (!receipt.messageId) {
      this.options.logger.warn('delivery receipt without a message id; not recorded');
      return;
    }
    this.options.logger.info('delivery receipt', {
      messageId: receipt.messageId,
      state: receipt.state,
      error: receipt.error,
    });
    this.options.records
      .receipt({ ...receipt, messageId: receipt.messageId, receivedAt: this.clock() })
      .catch((error: unknown) =>
        this.options.logger.error('delivery receipt not recorded', {
          messageId: receipt.messageId,
          err: error,
        }),
      );
  }

  private wake(): void {
    for (const resolve of [...this.waiting]) resolve();
    this.waiting.clear();
  }

  private changeOrTimeout(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, ms));
      this.waiting.add(done);
    });
  }
}

/** The receipt's message id, final state and error: its TLVs where given, else its text. */
function readReceipt(pdu: Pdu): {
  messageId: string | undefined;
  state: string;
  error: string | undefined;
} {
  const shortMessage = pdu['short_message'] as { message?: unknown } | undefined;
  const text = typeof shortMessage?.message === 'string' ? shortMessage.message : '';
  // SMPP 3.4 Appendix B: "id:IIII sub:SSS dlvrd:DDD submit date:... done date:... stat:SSSSSSS err:EEE text:..."
  const field = (name: string): string | undefined =>
    new RegExp(`(?:^|\\s)${name}:(\\S+)`, 'i').exec(text)?.[1];
  const tlvId = pdu['receipted_message_id'];
  const tlvState = pdu['message_state'];
  return {
    messageId: typeof tlvId === 'string' && tlvId !== '' ? tlvId : field('id'),
    state:
      typeof tlvState === 'number'
        ? (MESSAGE_STATES[tlvState] ?? `STATE_${tlvState}`)
        : (field('stat')?.toUpperCase() ?? 'UNKNOWN'),
    error: field('err'),
  };
}

/** A command status by its SMPP name (ESME_RTHROTTLED), or in hex when unnamed. */
function statusName(status: number): string {
  for (const [name, value] of Object.entries(smpp.errors)) if (value === status) return name;
  return `0x${status.toString(16).padStart(8, '0')}`;
}

/** The DLT TLVs, in the library's registry of TLVs (process-wide, so registered once). */
function registerDltTlvs(): void {
  if (smpp.tlvs['dlt_pe_id']) return;
  smpp.addTLV('dlt_pe_id', { id: DLT_PE_ID_TAG, type: smpp.types.tlv.string });
  smpp.addTLV('dlt_template_id', { id: DLT_TEMPLATE_ID_TAG, type: smpp.types.tlv.string });
}

/** A PDU field as text ('' when absent or not text). */
function textOf(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
