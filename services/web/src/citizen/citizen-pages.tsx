import type { ComponentChildren } from 'preact';
import type { auditV1, identityV1, otpV1 } from '@vaxguard/proto';
import { identityV1 as identity, otpV1 as otp } from '@vaxguard/proto';
import type { PageContext } from '../http/web-context';
import { CsrfField, Layout, Notice, type NavLink } from '../pages/layout';

/** The citizen's own links, once signed in. */
export const CITIZEN_NAV: readonly NavLink[] = [
  { href: '/me', label: 'nav.beneficiaries' },
  { href: '/me/history', label: 'nav.history' },
  { href: '/me/consent', label: 'nav.consent' },
];
export const SIGN_OUT_ACTION = '/sign-out';

interface Message {
  readonly kind: 'error' | 'info';
  readonly text: string;
}

function MessageBox({ message }: { readonly message: Message | undefined }) {
  return message ? <Notice kind={message.kind}>{message.text}</Notice> : null;
}

export function SignInPage({
  page,
  message,
  devSmsInbox,
}: {
  readonly page: PageContext;
  readonly message?: Message | undefined;
  readonly devSmsInbox?: string | undefined;
}) {
  const { t } = page;
  return (
    <Layout page={page} title={t('signIn.title')}>
      <MessageBox message={message} />
      <p>{t('signIn.intro')}</p>
      <form method="post" action="/sign-in" class="stack">
        <CsrfField page={page} />
        <label for="mobile">{t('signIn.mobile')}</label>
        <input
          id="mobile"
          name="mobile"
          type="tel"
          inputmode="numeric"
          autocomplete="tel-national"
          required
          pattern="(\+91)?[6-9][0-9]{9}"
          maxlength={13}
          aria-describedby="mobile-hint"
        />
        <p id="mobile-hint" class="hint">
          {t('signIn.mobileHint')}
        </p>
        <button type="submit">{t('signIn.send')}</button>
      </form>
      {devSmsInbox && <p class="hint">{t('signIn.devInbox', { file: devSmsInbox })}</p>}
    </Layout>
  );
}

export function CodePage({
  page,
  maskedMobile,
  message,
}: {
  readonly page: PageContext;
  readonly maskedMobile: string;
  readonly message?: Message | undefined;
}) {
  const { t } = page;
  return (
    <Layout page={page} title={t('code.title')}>
      <MessageBox message={message} />
      <p>{t('code.sentTo', { mobile: maskedMobile })}</p>
      <form method="post" action="/sign-in/code" class="stack">
        <CsrfField page={page} />
        <label for="otp">{t('code.label')}</label>
        <input
          id="otp"
          name="otp"
          type="text"
          inputmode="numeric"
          autocomplete="one-time-code"
          required
          pattern="[0-9]{6}"
          maxlength={6}
        />
        <button type="submit">{t('code.submit')}</button>
      </form>
      <p>
        <a href="/">{t('code.restart')}</a>
      </p>
    </Layout>
  );
}

function CitizenLayout({
  page,
  title,
  children,
}: {
  readonly page: PageContext;
  readonly title: string;
  readonly children: ComponentChildren;
}) {
  return (
    <Layout page={page} title={title} nav={CITIZEN_NAV} signOutAction={SIGN_OUT_ACTION}>
      {children}
    </Layout>
  );
}

export function BeneficiariesPage({
  page,
  beneficiaries,
  message,
}: {
  readonly page: PageContext;
  readonly beneficiaries: readonly identityV1.Beneficiary[];
  readonly message?: Message | undefined;
}) {
  const { t } = page;
  return (
    <CitizenLayout page={page} title={t('bnf.title')}>
      <MessageBox message={message} />
      <p>{t('bnf.intro')}</p>
      {beneficiaries.length === 0 && <p>{t('bnf.none')}</p>}
      {beneficiaries.map((beneficiary, position) => (
        <section class="card" key={position} aria-labelledby={`bnf-${position}`}>
          <h2 id={`bnf-${position}`}>{beneficiary.name}</h2>
          <dl>
            <dt>{t('bnf.gender')}</dt>
            <dd>{page.maybe(`gender.${identity.Gender[beneficiary.gender]}`) ?? ''}</dd>
            <dt>{t('bnf.yearOfBirth')}</dt>
            <dd>{beneficiary.yearOfBirth}</dd>
            <dt>
              {page.maybe(`photoId.${identity.PhotoIdKind[beneficiary.photoIdKind]}`) ??
                t('bnf.photoId')}
            </dt>
            <dd>{beneficiary.maskedPhotoId}</dd>
            <dt>{t('bnf.mobile')}</dt>
            <dd>{beneficiary.maskedMobile}</dd>
          </dl>
          <form method="post" action="/certificate" class="downloads">
            <CsrfField page={page} />
            <input type="hidden" name="beneficiary" value={String(position)} />
            <fieldset>
              <legend>{t('bnf.certificate', { name: beneficiary.name })}</legend>
              <button type="submit" name="format" value="svg">
                {t('cert.svg')}
              </button>
              <button type="submit" name="format" value="qr">
                {t('cert.qr')}
              </button>
              <button type="submit" name="format" value="card">
                {t('cert.card')}
              </button>
            </fieldset>
          </form>
        </section>
      ))}
    </CitizenLayout>
  );
}

export function HistoryPage({
  page,
  accesses,
  names,
  nextPage,
}: {
  readonly page: PageContext;
  readonly accesses: readonly auditV1.RecordAccess[];
  /** Each listed beneficiary's name by reference; the table names people, not references. */
  readonly names: ReadonlyMap<string, string>;
  /** The next page's number, when there are older entries. */
  readonly nextPage?: number | undefined;
}) {
  const { t } = page;
  const when = timeFormat(page);
  return (
    <CitizenLayout page={page} title={t('history.title')}>
      <p>{t('history.intro')}</p>
      {accesses.length === 0 ? (
        <p>{t('history.none')}</p>
      ) : (
        // A region of its own that a keyboard can reach: on a narrow phone it scrolls.
        <div class="table-scroll" tabindex={0} role="region" aria-label={t('history.caption')}>
          <table>
            <caption>{t('history.caption')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('history.when')}</th>
                <th scope="col">{t('history.beneficiary')}</th>
                <th scope="col">{t('history.who')}</th>
                <th scope="col">{t('history.why')}</th>
                <th scope="col">{t('history.outcome')}</th>
              </tr>
            </thead>
            <tbody>
              {accesses.map((access, i) => (
                <tr key={i} class={access.granted ? 'granted' : 'refused'}>
                  <td>{access.occurredAt ? when.format(access.occurredAt) : ''}</td>
                  <td>{names.get(access.beneficiaryRef) ?? ''}</td>
                  <td>{whoRead(page, access)}</td>
                  <td>{page.maybe(`purpose.${access.purpose}`) ?? access.purpose}</td>
                  <td>
                    {access.granted
                      ? t('history.granted')
                      : access.refusal
                        ? t('history.refusedReason', {
                            reason: page.maybe(`refusal.${access.refusal}`) ?? access.refusal,
                          })
                        : t('history.refused')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {nextPage !== undefined && (
        <p>
          <a href={`/me/history?page=${nextPage}`}>{t('history.more')}</a>
        </p>
      )}
    </CitizenLayout>
  );
}

/**
 * Who read: the role, and the centre's or partner's name (or id) — never a staff
 * member's own details, which the audit service does not give the citizen anyway.
 */
export function whoRead(page: PageContext, access: auditV1.RecordAccess): string {
  const role = page.maybe(`role.${access.role}`) ?? access.role;
  const where = access.centreName || access.partnerName || access.centreOrPartner;
  return where ? `${role}, ${where}` : role;
}

export function ConsentPage({
  page,
  grants,
  names,
  message,
}: {
  readonly page: PageContext;
  /** The consent grants in force naming this mobile (OTP's ListMyConsents), newest first. */
  readonly grants: readonly otpV1.ConsentGrant[];
  /** Each listed beneficiary's name by reference. */
  readonly names: ReadonlyMap<string, string>;
  readonly message?: Message | undefined;
}) {
  const { t } = page;
  const when = timeFormat(page);
  return (
    <CitizenLayout page={page} title={t('consent.title')}>
      <MessageBox message={message} />
      <h2>{t('consent.inForceTitle')}</h2>
      {grants.length === 0 ? (
        <p>{t('consent.none')}</p>
      ) : (
        <div class="table-scroll" tabindex={0} role="region" aria-label={t('consent.caption')}>
          <table>
            <caption>{t('consent.caption')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('consent.who')}</th>
                <th scope="col">{t('consent.beneficiaries')}</th>
                <th scope="col">{t('consent.how')}</th>
                <th scope="col">{t('consent.until')}</th>
                <th scope="col">{t('consent.action')}</th>
              </tr>
            </thead>
            <tbody>
              {grants.map((grant) => (
                <tr key={grant.grantId}>
                  <td>{granteeOf(page, grant)}</td>
                  <td>
                    {(grant.consent?.beneficiaryRefs ?? [])
                      .map((ref) => names.get(ref) ?? t('consent.unlisted'))
                      .join(', ')}
                  </td>
                  <td>
                    {grant.purpose === otp.OtpPurpose.OTP_PURPOSE_SECRET_CODE
                      ? t('consent.viaSecretCode')
                      : t('consent.viaOtp')}
                  </td>
                  <td>{grant.expiresAt ? when.format(grant.expiresAt) : ''}</td>
                  <td>
                    <form method="post" action="/me/consent/withdraw">
                      <CsrfField page={page} />
                      <input type="hidden" name="grant" value={grant.grantId} />
                      <button type="submit">{t('consent.withdrawButton')}</button>
                    </form>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p>{t('consent.intro')}</p>
      <h2>{t('consent.secretCodeTitle')}</h2>
      <p>{t('consent.secretCode')}</p>
      <h2>{t('consent.otpTitle')}</h2>
      <p>{t('consent.otp')}</p>
      <h2>{t('consent.withdrawTitle')}</h2>
      <p>{t('consent.withdraw')}</p>
    </CitizenLayout>
  );
}

/** Who a grant opens the records to: a vaccinator (no staff member's details), or the partner by its id. */
function granteeOf(page: PageContext, grant: otpV1.ConsentGrant): string {
  const grantee = grant.consent?.grantee;
  if (grantee?.kind === otp.GranteeKind.GRANTEE_KIND_PARTNER_CLIENT)
    return `${page.t('role.PARTNER_CLIENT')}, ${grantee.id}`;
  return page.t('consent.granteeStaff');
}

/** Dates and times as the citizen reads them: India's time zone, in the page's language. */
function timeFormat(page: PageContext): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat(page.lang === 'hi' ? 'hi-IN' : 'en-IN', {
    dateStyle: 'medium',
    timeStyle: 'short',
    timeZone: 'Asia/Kolkata',
  });
}
