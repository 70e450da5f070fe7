// The auditor's console's pages, server-rendered in the site's layout. Forms post with
// CSRF tokens; the proof boxes carry their messages for browser/proof-check.ts.
import type { ComponentChildren } from 'preact';
import type { PageContext } from '../http/web-context';
import type { MessageKey } from '../i18n/i18n';
import { CsrfField, Layout, type NavLink, Notice } from '../pages/layout';
import {
  EVENT_TYPE_NAMES,
  type FieldProblem,
  formatFilterTime,
  type LockProblem,
  type LockRequest,
  type LockScope,
  type LogFilter,
} from './auditor-rules';
import type { EntryView } from './entry-view';
import type { AuditorMessageKey } from './messages';

export const AUDIT_PATHS = {
  signIn: '/audit/sign-in',
  code: '/audit/sign-in/code',
  signOut: '/audit/sign-out',
  log: '/audit',
  filter: '/audit/filter',
  entry: (index: number) => `/audit/entries/${index}`,
  proof: (index: number) => `/audit/entries/${index}/proof`,
  export: '/audit/export',
  consistency: '/audit/consistency',
  consistencyProof: '/audit/consistency/proof',
  alerts: '/audit/alerts',
  acknowledge: '/audit/alerts/acknowledge',
  killSwitch: '/audit/kill-switch',
  killSwitchConfirm: '/audit/kill-switch/confirm',
} as const;

/** The bundled script that checks proofs in the browser (src/browser/proof-check.ts). */
export const PROOF_SCRIPT = 'proof-check';

function nav(canKill: boolean): NavLink[] {
  return [
    { href: AUDIT_PATHS.log, label: 'audit.nav.log' },
    { href: AUDIT_PATHS.alerts, label: 'audit.nav.alerts' },
    { href: AUDIT_PATHS.consistency, label: 'audit.nav.consistency' },
    ...(canKill ? [{ href: AUDIT_PATHS.killSwitch, label: 'audit.nav.killSwitch' } as const] : []),
  ];
}

interface ConsoleProps {
  readonly page: PageContext;
  /** Whether the signed-in staff member is a platform admin (sees the kill switch). */
  readonly canKill: boolean;
}

function ConsoleLayout({
  page,
  canKill,
  title,
  scripts,
  children,
}: ConsoleProps & {
  readonly title: string;
  readonly scripts?: readonly string[];
  readonly children: ComponentChildren;
}) {
  return (
    <Layout
      page={page}
      title={title}
      nav={nav(canKill)}
      signOutAction={AUDIT_PATHS.signOut}
      {...(scripts ? { scripts } : {})}
    >
      {children}
    </Layout>
  );
}

const t = (page: PageContext, key: AuditorMessageKey, values?: Record<string, string | number>) =>
  page.t(key, values);

// ---- Sign-in -------------------------------------------------------------------------

/** Messages come translated: some carry values (minutes to wait, a refusal's reason). */
export function AuditSignInPage({
  page,
  error,
  info,
}: {
  readonly page: PageContext;
  readonly error?: string;
  readonly info?: string;
}) {
  return (
    <Layout page={page} title={t(page, 'audit.signIn.title')}>
      {info && <Notice kind="info">{info}</Notice>}
      {error && <Notice kind="error">{error}</Notice>}
      <p>{t(page, 'audit.signIn.intro')}</p>
      <form method="post" action={AUDIT_PATHS.signIn}>
        <CsrfField page={page} />
        <p class="field">
          <label for="username">{t(page, 'audit.signIn.username')}</label>
          <input id="username" name="username" autocomplete="username" required maxLength={64} />
        </p>
        <p class="field">
          <label for="password">{t(page, 'audit.signIn.password')}</label>
          <input
            id="password"
            name="password"
            type="password"
            autocomplete="current-password"
            required
            maxLength={256}
          />
        </p>
        <button type="submit">{t(page, 'audit.signIn.submit')}</button>
      </form>
    </Layout>
  );
}

export function AuditCodePage({
  page,
  error,
}: {
  readonly page: PageContext;
  readonly error?: string;
}) {
  return (
    <Layout page={page} title={t(page, 'audit.code.title')}>
      {error && <Notice kind="error">{error}</Notice>}
      <p>{t(page, 'audit.code.intro')}</p>
      <form method="post" action={AUDIT_PATHS.code}>
        <CsrfField page={page} />
        <p class="field">
          <label for="otp">{t(page, 'audit.code.label')}</label>
          <input
            id="otp"
            name="otp"
            inputMode="numeric"
            autocomplete="one-time-code"
            pattern="[0-9]{6}"
            maxLength={6}
            required
          />
        </p>
        <button type="submit">{t(page, 'audit.code.submit')}</button>
      </form>
    </Layout>
  );
}

/** A console page that only says something went wrong (a refusal, an entry not found). */
export function ConsoleNoticePage(
  props: ConsoleProps & { readonly title: string; readonly error: string },
) {
  return (
    <ConsoleLayout {...props} title={props.title}>
      <Notice kind="error">{props.error}</Notice>
      <p>
        <a href={AUDIT_PATHS.log}>{t(props.page, 'audit.nav.log')}</a>
      </p>
    </ConsoleLayout>
  );
}

// ---- The log -------------------------------------------------------------------------

function problemOf(problems: readonly FieldProblem[], field: FieldProblem['field']) {
  return problems.find((problem) => problem.field === field)?.problem;
}

function Field({
  page,
  id,
  label,
  hint,
  problem,
  children,
}: {
  readonly page: PageContext;
  readonly id: string;
  readonly label: string;
  readonly hint?: string;
  readonly problem: AuditorMessageKey | undefined;
  readonly children: ComponentChildren;
}) {
  return (
    <p class={problem ? 'field invalid' : 'field'}>
      <label for={id}>{label}</label>
      {hint && (
        <span class="hint" id={`${id}-hint`}>
          {hint}
        </span>
      )}
      {problem && (
        <span class="error" id={`${id}-error`}>
          {t(page, problem)}
        </span>
      )}
      {children}
    </p>
  );
}

function describedBy(id: string, hint: boolean, problem: unknown): string | undefined {
  const ids = [hint ? `${id}-hint` : '', problem ? `${id}-error` : ''].filter(Boolean);
  return ids.length > 0 ? ids.join(' ') : undefined;
}

export interface LogPageProps extends ConsoleProps {
  readonly filter: LogFilter;
  /** What the form last sent, when it was refused: shown back only as types, never values. */
  readonly problems: readonly FieldProblem[];
  readonly entries: readonly EntryView[];
  readonly pageNumber: number;
  readonly hasNext: boolean;
}

export function LogPage(props: LogPageProps) {
  const { page, filter, problems, entries, pageNumber, hasNext } = props;
  const invalid = (field: FieldProblem['field']) => problemOf(problems, field);
  // A refused field is shown empty: what was typed there may be personal data.
  const value = (field: 'actorId' | 'subjectRef') => (invalid(field) ? '' : filter[field]);
  return (
    <ConsoleLayout {...props} title={t(page, 'audit.log.title')}>
      <p>{t(page, 'audit.log.intro')}</p>
      {problems.length > 0 && <Notice kind="error">{t(page, 'audit.filter.invalid')}</Notice>}
      <form method="post" action={AUDIT_PATHS.filter} class="filter">
        <CsrfField page={page} />
        <fieldset>
          <legend>{t(page, 'audit.filter.legend')}</legend>
          <Field
            page={page}
            id="eventType"
            label={t(page, 'audit.filter.eventType')}
            problem={invalid('eventType')}
          >
            <select
              id="eventType"
              name="eventType"
              aria-invalid={invalid('eventType') ? 'true' : undefined}
              aria-describedby={describedBy('eventType', false, invalid('eventType'))}
            >
              <option value="">{t(page, 'audit.filter.anyType')}</option>
              {EVENT_TYPE_NAMES.map((name) => (
                <option key={name} value={name} selected={filter.eventType === name}>
                  {name}
                </option>
              ))}
            </select>
          </Field>
          <Field
            page={page}
            id="actorId"
            label={t(page, 'audit.filter.actorId')}
            hint={t(page, 'audit.filter.actorHint')}
            problem={invalid('actorId')}
          >
            <input
              id="actorId"
              name="actorId"
              value={value('actorId')}
              maxLength={128}
              autocomplete="off"
              aria-invalid={invalid('actorId') ? 'true' : undefined}
              aria-describedby={describedBy('actorId', true, invalid('actorId'))}
            />
          </Field>
          <Field
            page={page}
            id="subjectRef"
            label={t(page, 'audit.filter.subjectRef')}
            hint={t(page, 'audit.filter.subjectHint')}
            problem={invalid('subjectRef')}
          >
            <input
              id="subjectRef"
              name="subjectRef"
              value={value('subjectRef')}
              maxLength={128}
              autocomplete="off"
              aria-invalid={invalid('subjectRef') ? 'true' : undefined}
              aria-describedby={describedBy('subjectRef', true, invalid('subjectRef'))}
            />
          </Field>
          <Field
            page={page}
            id="from"
            label={t(page, 'audit.filter.from')}
            problem={invalid('from')}
          >
            <input
              id="from"
              name="from"
              type="datetime-local"
              value={formatFilterTime(filter.from)}
              aria-invalid={invalid('from') ? 'true' : undefined}
              aria-describedby={describedBy('from', false, invalid('from'))}
            />
          </Field>
          <Field page={page} id="to" label={t(page, 'audit.filter.to')} problem={invalid('to')}>
            <input
              id="to"
              name="to"
              type="datetime-local"
              value={formatFilterTime(filter.to)}
              aria-invalid={invalid('to') ? 'true' : undefined}
              aria-describedby={describedBy('to', false, invalid('to'))}
            />
          </Field>
          <p class="actions">
            <button type="submit" name="action" value="apply">
              {t(page, 'audit.filter.apply')}
            </button>{' '}
            <button type="submit" name="action" value="clear">
              {t(page, 'audit.filter.clear')}
            </button>
          </p>
        </fieldset>
      </form>
      <p>
        <a href={AUDIT_PATHS.export} download>
          {t(page, 'audit.filter.export')}
        </a>
      </p>
      {entries.length === 0 ? (
        <p>{t(page, 'audit.log.none')}</p>
      ) : (
        <div class="table-scroll" tabIndex={0} role="region" aria-labelledby="log-caption">
          <table class="log">
            <caption id="log-caption">
              {t(page, 'audit.log.caption', {
                first: entries[0]?.index ?? 0,
                last: entries[entries.length - 1]?.index ?? 0,
              })}
            </caption>
            <thead>
              <tr>
                <th scope="col">{t(page, 'audit.log.index')}</th>
                <th scope="col">{t(page, 'audit.log.when')}</th>
                <th scope="col">{t(page, 'audit.log.type')}</th>
                <th scope="col">{t(page, 'audit.log.actor')}</th>
                <th scope="col">{t(page, 'audit.log.subject')}</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry) => (
                <tr key={entry.index} data-event-type={entry.type}>
                  <td>
                    <a
                      href={AUDIT_PATHS.entry(entry.index)}
                      aria-label={t(page, 'audit.log.open', { index: entry.index })}
                    >
                      {entry.index}
                    </a>
                  </td>
                  <td>
                    <time dateTime={entry.occurredAt}>
                      {entry.occurredAt.replace('T', ' ').replace('Z', ' UTC')}
                    </time>
                  </td>
                  <td>{entry.type}</td>
                  <td>
                    {entry.actorKind} {entry.actorId}
                  </td>
                  <td>
                    {entry.subjectKind} {entry.subjectRef}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label={t(page, 'audit.log.page', { page: pageNumber })}>
        {pageNumber > 1 && (
          <a href={`${AUDIT_PATHS.log}?page=${pageNumber - 1}`} rel="prev">
            {t(page, 'audit.log.previous')}
          </a>
        )}{' '}
        <span>{t(page, 'audit.log.page', { page: pageNumber })}</span>{' '}
        {hasNext && (
          <a href={`${AUDIT_PATHS.log}?page=${pageNumber + 1}`} rel="next">
            {t(page, 'audit.log.next')}
          </a>
        )}
      </nav>
    </ConsoleLayout>
  );
}

// ---- One entry and its proof ---------------------------------------------------------

const FAILURES = [
  'VERIFIER_KEY',
  'CHECKPOINT_FORMAT',
  'CHECKPOINT_SIGNATURE',
  'CHECKPOINT_UNSIGNED',
  'CHECKPOINT_ORIGIN',
  'LEAF_HASH',
  'INCLUSION',
  'CONSISTENCY',
  'ROLLBACK',
  'FORK',
] as const;

/** The messages proof-check.ts shows, as data-msg-* attributes in the page's language. */
function proofMessages(page: PageContext): Record<string, string> {
  const messages: Record<string, string> = {
    'data-msg-checking': t(page, 'audit.proof.checking'),
    'data-msg-verified': t(page, 'audit.proof.verified'),
    'data-msg-not-verified': t(page, 'audit.proof.notVerified'),
    'data-msg-pending': t(page, 'audit.proof.pending'),
    'data-msg-error': t(page, 'audit.proof.error'),
    'data-msg-tree-size': t(page, 'audit.proof.treeSize'),
    'data-msg-key-pinned': t(page, 'audit.proof.keyPinned'),
    'data-msg-key-served': t(page, 'audit.proof.keyServed'),
    'data-msg-saved': t(page, 'audit.consistency.didSave'),
  };
  for (const failure of FAILURES) {
    messages[`data-msg-failure-${failure}`] = t(page, `audit.proof.failure.${failure}`);
  }
  return messages;
}

function ProofStatus() {
  return (
    <div class="proof-outcome">
      <p data-proof-status role="status" aria-live="polite" />
      <pre data-proof-detail />
    </div>
  );
}

export interface EntryPageProps extends ConsoleProps {
  readonly entry: EntryView;
  /** The canonical bytes as text (UTF-8 JSON). */
  readonly raw: string;
}

export function EntryPage(props: EntryPageProps) {
  const { page, entry, raw } = props;
  const rows: [AuditorMessageKey | MessageKey, string][] = [
    ['audit.log.type', entry.type],
    ['audit.log.when', entry.occurredAt],
    ['audit.entry.eventId', entry.eventId],
    ['audit.entry.producer', entry.producer],
    ['audit.log.actor', `${entry.actorKind} ${entry.actorId}`],
    ['audit.entry.client', entry.clientId],
    ['audit.log.subject', `${entry.subjectKind} ${entry.subjectRef}`],
  ];
  return (
    <ConsoleLayout
      {...props}
      title={t(page, 'audit.entry.title', { index: entry.index })}
      scripts={[PROOF_SCRIPT]}
    >
      <section
        aria-labelledby="proof-title"
        class="proof"
        data-proof-check="inclusion"
        data-source={AUDIT_PATHS.proof(entry.index)}
        {...proofMessages(page)}
      >
        <h2 id="proof-title">{t(page, 'audit.proof.title')}</h2>
        <p>{t(page, 'audit.proof.intro')}</p>
        <noscript>
          <p>{t(page, 'audit.proof.noscript')}</p>
        </noscript>
        <ProofStatus />
      </section>
      <h2>{t(page, 'audit.entry.fields')}</h2>
      <dl class="entry">
        {rows.map(([key, value]) => (
          <div key={key}>
            <dt>{page.t(key)}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      {entry.payload !== undefined && (
        <>
          <h2>{t(page, 'audit.entry.payload')}</h2>
          <pre class="payload">{entry.payload}</pre>
        </>
      )}
      <h2>{t(page, 'audit.entry.raw')}</h2>
      <pre class="raw">{raw}</pre>
    </ConsoleLayout>
  );
}

// ---- Consistency ---------------------------------------------------------------------

export interface ConsistencyPageProps extends ConsoleProps {
  readonly origin: string;
  readonly treeSize: number;
  readonly haltReason: string | undefined;
}

export function ConsistencyPage(props: ConsistencyPageProps) {
  const { page, origin, treeSize, haltReason } = props;
  return (
    <ConsoleLayout {...props} title={t(page, 'audit.consistency.title')} scripts={[PROOF_SCRIPT]}>
      <p>{t(page, 'audit.consistency.intro')}</p>
      {haltReason !== undefined && (
        <Notice kind="error">{t(page, 'audit.consistency.halted', { reason: haltReason })}</Notice>
      )}
      <p>
        {t(page, 'audit.consistency.current')}: {origin} · {t(page, 'audit.proof.treeSize')}{' '}
        {treeSize}
      </p>
      <section
        class="proof"
        aria-labelledby="consistency-title"
        data-proof-check="consistency"
        data-source={AUDIT_PATHS.consistencyProof}
        {...proofMessages(page)}
      >
        <h2 id="consistency-title">{t(page, 'audit.consistency.saved')}</h2>
        <p class="field">
          <label for="saved-checkpoint">{t(page, 'audit.consistency.saved')}</label>
          <span class="hint" id="saved-checkpoint-hint">
            {t(page, 'audit.consistency.savedHint')}
          </span>
          <textarea
            id="saved-checkpoint"
            name="previous"
            rows={8}
            spellcheck={false}
            aria-describedby="saved-checkpoint-hint"
          />
        </p>
        <noscript>
          <p>{t(page, 'audit.proof.noscript')}</p>
        </noscript>
        <p class="actions">
          <button type="button" data-action="check" hidden>
            {t(page, 'audit.consistency.check')}
          </button>{' '}
          <button type="button" data-action="save" hidden>
            {t(page, 'audit.consistency.save')}
          </button>
        </p>
        <ProofStatus />
      </section>
    </ConsoleLayout>
  );
}

// ---- Alerts and suspensions ----------------------------------------------------------

export interface AlertRow {
  readonly alertId: string;
  readonly rule: string;
  readonly severity: string;
  readonly principal: string;
  readonly window:
    { readonly name: string; readonly observed: number; readonly threshold: number } | undefined;
  readonly response: string;
  readonly raisedAt: string;
  readonly acknowledgedBy: string | undefined;
}

export interface SuspensionRow {
  readonly index: number;
  readonly occurredAt: string;
  readonly suspended: boolean;
  readonly principal: string;
  readonly by: string;
  readonly reason: string;
}

export interface AlertsPageProps extends ConsoleProps {
  readonly alerts: readonly AlertRow[];
  readonly showAll: boolean;
  readonly nextPageToken: string;
  readonly suspensions: readonly SuspensionRow[];
  readonly notice?: AuditorMessageKey;
  readonly error?: string;
}

export function AlertsPage(props: AlertsPageProps) {
  const { page, alerts, showAll, suspensions, notice, error } = props;
  return (
    <ConsoleLayout {...props} title={t(page, 'audit.alerts.title')}>
      {notice && <Notice kind="info">{t(page, notice)}</Notice>}
      {error && <Notice kind="error">{error}</Notice>}
      <p>{t(page, 'audit.alerts.intro')}</p>
      <p>
        <a href={showAll ? AUDIT_PATHS.alerts : `${AUDIT_PATHS.alerts}?all=1`}>
          {t(page, showAll ? 'audit.alerts.showOpen' : 'audit.alerts.showAll')}
        </a>
      </p>
      {alerts.length === 0 ? (
        <p>{t(page, 'audit.alerts.none')}</p>
      ) : (
        <div class="table-scroll" tabIndex={0} role="region" aria-labelledby="alerts-caption">
          <table class="alerts">
            <caption id="alerts-caption">{t(page, 'audit.alerts.caption')}</caption>
            <thead>
              <tr>
                <th scope="col">{t(page, 'audit.alerts.raised')}</th>
                <th scope="col">{t(page, 'audit.alerts.rule')}</th>
                <th scope="col">{t(page, 'audit.alerts.severity')}</th>
                <th scope="col">{t(page, 'audit.alerts.principal')}</th>
                <th scope="col">{t(page, 'audit.alerts.window')}</th>
                <th scope="col">{t(page, 'audit.alerts.response')}</th>
                <th scope="col">{t(page, 'audit.alerts.status')}</th>
              </tr>
            </thead>
            <tbody>
              {alerts.map((alert) => (
                <tr key={alert.alertId} data-rule={alert.rule} data-principal={alert.principal}>
                  <td>{alert.raisedAt}</td>
                  <td>{alert.rule}</td>
                  <td>{alert.severity}</td>
                  <td>{alert.principal}</td>
                  <td>
                    {alert.window
                      ? t(page, 'audit.alerts.windowValue', {
                          observed: alert.window.observed,
                          window: alert.window.name,
                          threshold: alert.window.threshold,
                        })
                      : ''}
                  </td>
                  <td>{alert.response}</td>
                  <td>
                    {alert.acknowledgedBy !== undefined ? (
                      t(page, 'audit.alerts.acknowledgedBy', { staff: alert.acknowledgedBy })
                    ) : (
                      <form method="post" action={AUDIT_PATHS.acknowledge}>
                        <CsrfField page={page} />
                        <input type="hidden" name="alertId" value={alert.alertId} />
                        <button
                          type="submit"
                          aria-label={t(page, 'audit.alerts.acknowledgeRule', {
                            rule: alert.rule,
                            principal: alert.principal,
                          })}
                        >
                          {t(page, 'audit.alerts.acknowledge')}
                        </button>
                      </form>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>{t(page, 'audit.suspensions.title')}</h2>
      <p>{t(page, 'audit.suspensions.intro')}</p>
      {suspensions.length === 0 ? (
        <p>{t(page, 'audit.suspensions.none')}</p>
      ) : (
        <div class="table-scroll" tabIndex={0} role="region" aria-labelledby="suspensions-caption">
          <table class="suspensions">
            <caption id="suspensions-caption">{t(page, 'audit.suspensions.caption')}</caption>
            <thead>
              <tr>
                <th scope="col">{t(page, 'audit.log.when')}</th>
                <th scope="col">{t(page, 'audit.suspensions.what')}</th>
                <th scope="col">{t(page, 'audit.alerts.principal')}</th>
                <th scope="col">{t(page, 'audit.suspensions.by')}</th>
                <th scope="col">{t(page, 'audit.suspensions.reason')}</th>
              </tr>
            </thead>
            <tbody>
              {suspensions.map((row) => (
                <tr key={row.index}>
                  <td>
                    <a href={AUDIT_PATHS.entry(row.index)}>{row.occurredAt}</a>
                  </td>
                  <td>{t(page, row.suspended ? 'audit.suspended' : 'audit.reinstated')}</td>
                  <td>{row.principal}</td>
                  <td>{row.by}</td>
                  <td>{row.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </ConsoleLayout>
  );
}

// ---- The kill switch -----------------------------------------------------------------

export function describeScope(scope: LockScope): string {
  return scope.kind === 'everything' ? 'everything' : `${scope.kind} ${scope.value}`;
}

export interface KillSwitchPageProps extends ConsoleProps {
  readonly problems: readonly LockProblem[];
  readonly recent: readonly EntryView[];
  readonly notice?: AuditorMessageKey;
  readonly error?: string;
}

export function KillSwitchPage(props: KillSwitchPageProps) {
  const { page, problems, recent, notice, error } = props;
  return (
    <ConsoleLayout {...props} title={t(page, 'audit.kill.title')}>
      {notice && <Notice kind="info">{t(page, notice)}</Notice>}
      {error && <Notice kind="error">{error}</Notice>}
      {problems.length > 0 && (
        <div class="notice error" role="alert">
          <ul>
            {problems.map((problem) => (
              <li key={problem}>{t(page, problem)}</li>
            ))}
          </ul>
        </div>
      )}
      <p>{t(page, 'audit.kill.intro')}</p>
      <form method="post" action={AUDIT_PATHS.killSwitch}>
        <CsrfField page={page} />
        <fieldset>
          <legend>{t(page, 'audit.kill.action')}</legend>
          <p>
            <input type="radio" id="action-lock" name="action" value="lock" checked />{' '}
            <label for="action-lock">{t(page, 'audit.kill.lock')}</label>
          </p>
          <p>
            <input type="radio" id="action-unlock" name="action" value="unlock" />{' '}
            <label for="action-unlock">{t(page, 'audit.kill.unlock')}</label>
          </p>
        </fieldset>
        <fieldset>
          <legend>{t(page, 'audit.kill.scope')}</legend>
          {(['everything', 'service', 'method', 'client'] as const).map((scope) => (
            <p key={scope}>
              <input
                type="radio"
                id={`scope-${scope}`}
                name="scope"
                value={scope}
                checked={scope === 'client'}
              />{' '}
              <label for={`scope-${scope}`}>{t(page, `audit.kill.${scope}`)}</label>
            </p>
          ))}
          <p class="field">
            <label for="target">{t(page, 'audit.kill.target')}</label>
            <input id="target" name="target" maxLength={200} autocomplete="off" />
          </p>
        </fieldset>
        <p class="field">
          <label for="reason">{t(page, 'audit.kill.reason')}</label>
          <input
            id="reason"
            name="reason"
            required
            minLength={3}
            maxLength={200}
            autocomplete="off"
          />
        </p>
        <button type="submit">{t(page, 'audit.kill.review')}</button>
      </form>
      <h2>{t(page, 'audit.kill.recent')}</h2>
      {recent.length === 0 ? (
        <p>{t(page, 'audit.kill.none')}</p>
      ) : (
        <ul class="recent-locks">
          {recent.map((entry) => (
            <li key={entry.index}>
              <a href={AUDIT_PATHS.entry(entry.index)}>
                {entry.occurredAt} {entry.type}
              </a>{' '}
              {entry.actorId}
            </li>
          ))}
        </ul>
      )}
    </ConsoleLayout>
  );
}

export function KillSwitchConfirmPage(
  props: ConsoleProps & { readonly request: LockRequest; readonly nonce: string },
) {
  const { page, request, nonce } = props;
  const scope = describeScope(request.scope);
  return (
    <ConsoleLayout {...props} title={t(page, 'audit.kill.confirmTitle')}>
      <Notice kind="error">
        {t(
          page,
          request.action === 'lock' ? 'audit.kill.confirmLock' : 'audit.kill.confirmUnlock',
          {
            scope,
          },
        )}
      </Notice>
      <p>{t(page, 'audit.kill.confirmReason', { reason: request.reason })}</p>
      <form method="post" action={AUDIT_PATHS.killSwitchConfirm}>
        <CsrfField page={page} />
        <input type="hidden" name="nonce" value={nonce} />
        <button type="submit">{t(page, 'audit.kill.confirm')}</button>{' '}
        <a href={AUDIT_PATHS.killSwitch}>{t(page, 'audit.kill.cancel')}</a>
      </form>
    </ConsoleLayout>
  );
}
