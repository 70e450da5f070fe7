// The citizen's page: sign in with mobile and OTP, the beneficiaries on that mobile,
// their certificates, who read their records, and how consent works. No personal data
// in any URL: the mobile travels in a POST body once, a beneficiary is named by its
// position in the list the session holds, and every page's path is fixed.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { h } from 'preact';
import { isVaxGuardError, type VaxGuardError } from '@vaxguard/errors';
import { qrSvg } from '@vaxguard/health-cards';
import { maskMobileForDisplay, parseMobile, type Mobile } from '@vaxguard/pii';
import { otpV1 } from '@vaxguard/proto';
import type { WebDeps } from '../app';
import { asUser } from '../http/platform-clients';
import {
  clearSessionData,
  endSession,
  ensureSession,
  pageContext,
  rotateSession,
  seeOther,
  sendPage,
} from '../http/web-context';
import type { MessageKey } from '../i18n/i18n';
import { ErrorPage } from '../pages/error-page';
import type { CitizenState } from '../session/session-store';
import {
  BeneficiariesPage,
  CodePage,
  ConsentPage,
  HistoryPage,
  SignInPage,
  SIGN_OUT_ACTION,
} from './citizen-pages';
import {
  beneficiaryPosition,
  historyPage,
  HISTORY_PAGE_SIZE,
  isCertificateFormat,
  GRANT_ID_FORMAT,
  minutesToWait,
  OTP_FORMAT,
  type CertificateFormat,
} from './citizen-rules';

/** The paths of the citizen's page: fixed, none carrying data. */
export const CITIZEN_PATHS = {
  home: '/',
  signIn: '/sign-in',
  code: '/sign-in/code',
  beneficiaries: '/me',
  history: '/me/history',
  consent: '/me/consent',
  consentWithdraw: '/me/consent/withdraw',
  certificate: '/certificate',
  signOut: SIGN_OUT_ACTION,
} as const;

type Form = Record<string, unknown> | undefined;
const field = (body: unknown, name: string): unknown => (body as Form)?.[name];
/** A form field as text: a field sent twice (an array) or missing is empty. */
const text = (body: unknown, name: string): string => {
  const value = field(body, name);
  return typeof value === 'string' ? value : '';
};

/** The refusals a sign-in shows in words; anything else is the generic message. */
function signInMessage(error: VaxGuardError): {
  key: MessageKey;
  minutes?: number;
  status: number;
} {
  switch (error.reason) {
    case 'OTP_WRONG_CODE':
      return { key: 'error.wrongCode', status: 400 };
    case 'OTP_MALFORMED':
      return { key: 'error.badCode', status: 400 };
    case 'OTP_TXN_NOT_FOUND':
    case 'OTP_EXPIRED':
    case 'OTP_ATTEMPTS_EXHAUSTED':
    case 'OTP_ALREADY_USED':
      return { key: 'error.codeExpired', status: 400 };
  }
  if (error.code === 'RESOURCE_EXHAUSTED' || error.reason === 'MOBILE_LOCKED')
    return {
      key: 'error.tooMany',
      minutes: minutesToWait(error.retryAfterMs ?? 60_000),
      status: 429,
    };
  if (error.code === 'INVALID_ARGUMENT') return { key: 'error.badMobile', status: 400 };
  if (error.code === 'UNAVAILABLE' || error.code === 'DEADLINE_EXCEEDED')
    return { key: 'error.unavailable', status: 503 };
  return { key: 'error.generic', status: 500 };
}

const certificateFiles: Record<
  CertificateFormat,
  { readonly type: string; readonly filename: string }
> = {
  svg: { type: 'image/svg+xml', filename: 'vaxguard-certificate.svg' },
  qr: { type: 'image/svg+xml', filename: 'vaxguard-certificate-qr.svg' },
  // The SMART Health Card file format (spec: "Via File Download").
  card: { type: 'application/smart-health-card', filename: 'vaxguard.smart-health-card' },
};

export function registerCitizenRoutes(http: FastifyInstance, deps: WebDeps): void {
  const { platform, cookies, logger } = deps;

  /** The signed-in citizen of this session, while their token lasts. */
  const citizenOf = (request: FastifyRequest): CitizenState | undefined => {
    const session = request.webSession;
    const citizen = session?.data.citizen;
    if (!session || !citizen) return undefined;
    if (citizen.expiresAt.getTime() <= Date.now()) {
      clearSessionData(session, 'citizen');
      return undefined;
    }
    return citizen;
  };

  /** A refusal of a signed-in call: an ended token signs out, the rest is an error page. */
  const failed = (request: FastifyRequest, reply: FastifyReply, error: unknown) => {
    const page = pageContext(request, reply);
    if (isVaxGuardError(error) && error.code === 'UNAUTHENTICATED') {
      if (request.webSession) clearSessionData(request.webSession, 'citizen');
      return sendPage(
        reply,
        h(SignInPage, {
          page,
          message: { kind: 'info', text: page.t('error.signInAgain') },
          devSmsInbox: deps.devSmsInbox,
        }),
        401,
      );
    }
    const { key, status } = isVaxGuardError(error)
      ? signInMessage(error)
      : { key: 'error.generic' as const, status: 500 };
    if (status >= 500)
      logger.warn('platform call failed', { route: request.routeOptions.url, err: error });
    return sendPage(reply, h(ErrorPage, { page, message: key }), status);
  };

  http.get(CITIZEN_PATHS.home, async (request, reply) => {
    if (citizenOf(request)) return seeOther(reply, CITIZEN_PATHS.beneficiaries);
    return sendPage(
      reply,
      h(SignInPage, { page: pageContext(request, reply), devSmsInbox: deps.devSmsInbox }),
    );
  });

  http.post(CITIZEN_PATHS.signIn, async (request, reply) => {
    const signInPage = (key: MessageKey, status: number, values?: Record<string, number>) => {
      const page = pageContext(request, reply);
      return sendPage(
        reply,
        h(SignInPage, {
          page,
          message: { kind: 'error', text: page.t(key, values) },
          devSmsInbox: deps.devSmsInbox,
        }),
        status,
      );
    };
    let mobile: Mobile;
    try {
      mobile = parseMobile(text(request.body, 'mobile'));
    } catch {
      return signInPage('error.badMobile', 400);
    }
    const waitMs = deps.signInRequests.take(request.ip);
    if (waitMs > 0) return signInPage('error.tooMany', 429, { minutes: minutesToWait(waitMs) });
    try {
      const sent = await platform.otp.call(
        'generateOtp',
        { mobile, purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN, onBehalfOfClientId: '' },
        { idempotent: false },
      );
      const session = ensureSession(cookies, request, reply);
      clearSessionData(session, 'citizen');
      session.data.signIn = { txnId: sent.txnId, maskedMobile: maskMobileForDisplay(mobile) };
      return seeOther(reply, CITIZEN_PATHS.code);
    } catch (error) {
      if (!isVaxGuardError(error)) throw error;
      const { key, minutes, status } = signInMessage(error);
      if (status >= 500) logger.warn('sign-in code not sent', { err: error });
      return signInPage(key, status, minutes ? { minutes } : undefined);
    }
  });

  http.get(CITIZEN_PATHS.code, async (request, reply) => {
    const signIn = request.webSession?.data.signIn;
    if (!signIn) return seeOther(reply, CITIZEN_PATHS.home);
    return sendPage(
      reply,
      h(CodePage, { page: pageContext(request, reply), maskedMobile: signIn.maskedMobile }),
    );
  });

  http.post(CITIZEN_PATHS.code, async (request, reply) => {
    const signIn = request.webSession?.data.signIn;
    if (!signIn) return seeOther(reply, CITIZEN_PATHS.home);
    const codePage = (key: MessageKey, status: number, values?: Record<string, number>) => {
      const page = pageContext(request, reply);
      return sendPage(
        reply,
        h(CodePage, {
          page,
          maskedMobile: signIn.maskedMobile,
          message: { kind: 'error', text: page.t(key, values) },
        }),
        status,
      );
    };
    const otp = text(request.body, 'otp').trim();
    if (!OTP_FORMAT.test(otp)) return codePage('error.badCode', 400);
    const waitMs = deps.signInConfirmations.take(request.ip);
    if (waitMs > 0) return codePage('error.tooMany', 429, { minutes: minutesToWait(waitMs) });
    try {
      const confirmed = await platform.otp.call(
        'confirmOtp',
        { txnId: signIn.txnId, otp },
        { idempotent: false },
      );
      const claims = confirmed.claims;
      const session = rotateSession(cookies, request, reply);
      clearSessionData(session, 'signIn');
      session.data.citizen = {
        token: confirmed.token,
        tokenId: claims?.tokenId ?? '',
        expiresAt: claims?.expiresAt ?? new Date(Date.now() + 60_000),
        beneficiaryRefs: [],
        historyPageTokens: [''],
      };
      return seeOther(reply, CITIZEN_PATHS.beneficiaries);
    } catch (error) {
      if (!isVaxGuardError(error)) throw error;
      const { key, minutes, status } = signInMessage(error);
      if (status >= 500) logger.warn('sign-in code not confirmed', { err: error });
      return codePage(key, status, minutes ? { minutes } : undefined);
    }
  });

  http.get(CITIZEN_PATHS.beneficiaries, async (request, reply) => {
    const citizen = citizenOf(request);
    if (!citizen) return seeOther(reply, CITIZEN_PATHS.home);
    try {
      const { beneficiaries } = await platform.identity.call(
        'listMyBeneficiaries',
        {},
        asUser(citizen.token, true),
      );
      citizen.beneficiaryRefs = beneficiaries.map((b) => b.beneficiaryRef);
      return sendPage(
        reply,
        h(BeneficiariesPage, { page: pageContext(request, reply), beneficiaries }),
      );
    } catch (error) {
      return failed(request, reply, error);
    }
  });

  http.post(CITIZEN_PATHS.certificate, async (request, reply) => {
    const citizen = citizenOf(request);
    if (!citizen) return seeOther(reply, CITIZEN_PATHS.home);
    const position = beneficiaryPosition(
      field(request.body, 'beneficiary'),
      citizen.beneficiaryRefs.length,
    );
    const format = field(request.body, 'format');
    if (position === undefined || !isCertificateFormat(format)) {
      return sendPage(
        reply,
        h(ErrorPage, { page: pageContext(request, reply), message: 'error.generic' }),
        400,
      );
    }
    const beneficiaryRef = citizen.beneficiaryRefs[position] as string;
    try {
      const certificate = await platform.records.call(
        'getCertificate',
        { beneficiaryRef },
        asUser(citizen.token, false),
      );
      const body =
        format === 'svg'
          ? certificate.svg
          : format === 'qr'
            ? await qrSvg(certificate.jws)
            : JSON.stringify({ verifiableCredential: [certificate.jws] });
      const file = certificateFiles[format];
      return reply
        .header('cache-control', 'no-store')
        .header('content-disposition', `attachment; filename="${file.filename}"`)
        .type(file.type)
        .send(body);
    } catch (error) {
      if (
        isVaxGuardError(error) &&
        (error.reason === 'NO_DOSES' || error.reason === 'CERTIFICATE_HELD')
      ) {
        const page = pageContext(request, reply);
        const { beneficiaries } = await platform.identity.call(
          'listMyBeneficiaries',
          {},
          asUser(citizen.token, true),
        );
        const text = page.t(error.reason === 'NO_DOSES' ? 'cert.noDoses' : 'cert.held');
        return sendPage(
          reply,
          h(BeneficiariesPage, { page, beneficiaries, message: { kind: 'info', text } }),
          409,
        );
      }
      return failed(request, reply, error);
    }
  });

  http.get<{ Querystring: { page?: string } }>(CITIZEN_PATHS.history, async (request, reply) => {
    const citizen = citizenOf(request);
    if (!citizen) return seeOther(reply, CITIZEN_PATHS.home);
    // A page this session has reached the token of; any other number is the first page.
    const asked = historyPage(request.query.page);
    const page = citizen.historyPageTokens[asked - 1] === undefined ? 1 : asked;
    try {
      const [history, listed] = await Promise.all([
        platform.audit.call(
          'getMyAccessHistory',
          { pageSize: HISTORY_PAGE_SIZE, pageToken: citizen.historyPageTokens[page - 1] ?? '' },
          asUser(citizen.token, true),
        ),
        platform.identity.call('listMyBeneficiaries', {}, asUser(citizen.token, true)),
      ]);
      const names = new Map(listed.beneficiaries.map((b) => [b.beneficiaryRef, b.name]));
      if (history.nextPageToken) citizen.historyPageTokens[page] = history.nextPageToken;
      return sendPage(
        reply,
        h(HistoryPage, {
          page: pageContext(request, reply),
          accesses: history.accesses,
          names,
          nextPage: history.nextPageToken ? page + 1 : undefined,
        }),
      );
    } catch (error) {
      return failed(request, reply, error);
    }
  });

  /** The consent page: the grants in force naming this mobile, with a message after a withdrawal. */
  const consentPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    citizen: CitizenState,
    message?: { kind: 'error' | 'info'; key: MessageKey },
    status = 200,
  ) => {
    const [consents, listed] = await Promise.all([
      platform.otp.call('listMyConsents', {}, asUser(citizen.token, true)),
      platform.identity.call('listMyBeneficiaries', {}, asUser(citizen.token, true)),
    ]);
    const page = pageContext(request, reply);
    return sendPage(
      reply,
      h(ConsentPage, {
        page,
        grants: consents.grants,
        names: new Map(listed.beneficiaries.map((b) => [b.beneficiaryRef, b.name])),
        message: message && { kind: message.kind, text: page.t(message.key) },
      }),
      status,
    );
  };

  http.get(CITIZEN_PATHS.consent, async (request, reply) => {
    const citizen = citizenOf(request);
    if (!citizen) return seeOther(reply, CITIZEN_PATHS.home);
    try {
      return await consentPage(request, reply, citizen);
    } catch (error) {
      return failed(request, reply, error);
    }
  });

  http.post(CITIZEN_PATHS.consentWithdraw, async (request, reply) => {
    const citizen = citizenOf(request);
    if (!citizen) return seeOther(reply, CITIZEN_PATHS.home);
    const grantId = text(request.body, 'grant');
    try {
      if (!GRANT_ID_FORMAT.test(grantId)) {
        return await consentPage(
          request,
          reply,
          citizen,
          { kind: 'error', key: 'consent.ended' },
          400,
        );
      }
      try {
        // Withdrawing twice changes nothing, so a retry is safe.
        await platform.otp.call('withdrawConsent', { grantId }, asUser(citizen.token, true));
      } catch (error) {
        // Another mobile's grant is refused as an unknown one: either way, nothing to withdraw here.
        if (isVaxGuardError(error) && error.reason === 'CONSENT_NOT_FOUND') {
          return await consentPage(
            request,
            reply,
            citizen,
            { kind: 'error', key: 'consent.ended' },
            404,
          );
        }
        throw error;
      }
      return await consentPage(request, reply, citizen, { kind: 'info', key: 'consent.withdrawn' });
    } catch (error) {
      return failed(request, reply, error);
    }
  });

  http.post(CITIZEN_PATHS.signOut, async (request, reply) => {
    const citizen = request.webSession?.data.citizen;
    if (citizen?.tokenId) {
      // The token dies with the session: revoked at every service, not merely forgotten here.
      await platform.otp
        .call('revokeToken', { tokenId: citizen.tokenId }, { idempotent: true })
        .catch((error: unknown) =>
          logger.warn('citizen token not revoked at sign-out', { err: error }),
        );
    }
    endSession(cookies, request, reply);
    return seeOther(reply, CITIZEN_PATHS.home);
  });
}
