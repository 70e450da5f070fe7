// `vaxguard alerts tail`: the anomaly alerts as the audit service raises them, read with
// an auditor's staff session (ListAlerts, newest first; every read of the alerts is
// itself an entry in the audit log, hence a gentle default interval).
import type { Command } from 'commander';
import { callAs } from '@vaxguard/dev-operator';
import { auditV1 } from '@vaxguard/proto';
import type { CliCommand } from '../cli';
import type { CommandContext } from '../context';
import { seconds, wholeNumber } from '../parse';
import { pause, staffCredentials, withStaffOptions, type StaffOptions } from '../staff';

const PAGE_SIZE = 50;

interface AlertView {
  readonly alertId: string;
  readonly rule: string;
  readonly severity: string;
  readonly principalKind: string;
  readonly principalId: string;
  readonly window: {
    readonly name: string;
    readonly observed: number;
    readonly threshold: number;
    readonly startsAt: string;
    readonly endsAt: string;
  };
  readonly response: string;
  readonly responseOutcome: string;
  readonly raisedAt: string;
  readonly acknowledgedAt: string;
  readonly acknowledgedBy: string;
}

const after = (prefix: string) => (name: string) => name.replace(prefix, '');

function viewOf(record: auditV1.AlertRecord): AlertView {
  const alert = record.alert;
  return {
    alertId: alert?.alertId ?? '',
    rule: alert?.rule ?? '',
    severity: after('SEVERITY_')(auditV1.severityToJSON(alert?.severity ?? 0)),
    principalKind: after('ALERT_PRINCIPAL_KIND_')(
      auditV1.alertPrincipalKindToJSON(alert?.principalKind ?? 0),
    ),
    principalId: alert?.principalId ?? '',
    window: {
      name: alert?.window?.name ?? '',
      observed: alert?.window?.observed ?? 0,
      threshold: alert?.window?.threshold ?? 0,
      startsAt: alert?.window?.startsAt?.toISOString() ?? '',
      endsAt: alert?.window?.endsAt?.toISOString() ?? '',
    },
    response: after('AUTOMATIC_RESPONSE_')(auditV1.automaticResponseToJSON(alert?.response ?? 0)),
    responseOutcome: after('RESPONSE_OUTCOME_')(
      auditV1.responseOutcomeToJSON(record.responseOutcome),
    ),
    raisedAt: alert?.raisedAt?.toISOString() ?? '',
    acknowledgedAt: record.acknowledgedAt?.toISOString() ?? '',
    acknowledgedBy: record.acknowledgedBy,
  };
}

function alertLine(view: AlertView): string {
  const principal =
    view.principalId.length > 16 ? `${view.principalId.slice(0, 12)}…` : view.principalId;
  const response =
    view.response === 'NONE' || view.response === 'UNSPECIFIED'
      ? ''
      : `  response ${view.response} ${view.responseOutcome === 'UNSPECIFIED' ? '(pending)' : view.responseOutcome}`;
  return `${view.raisedAt}  ${view.severity.padEnd(8)} ${view.rule.padEnd(26)} ${view.principalKind.toLowerCase()} ${principal}  ${view.window.observed} > ${view.window.threshold} in ${view.window.name}${response}${view.acknowledgedAt ? '  acknowledged' : ''}`;
}

interface TailOptions extends StaffOptions {
  readonly last: number;
  readonly count?: number;
  readonly interval: number;
  readonly unacknowledged?: boolean;
}

async function tail(context: CommandContext, options: TailOptions) {
  const credentials = await staffCredentials(context, options);
  const audit = context.operator().audit;
  const signal = context.io.signal;
  const seen = new Set<string>();
  let shown = 0;
  let first = true;
  if (!context.json) {
    context.note(
      `following alerts as ${credentials.username}${options.count ? ` for ${options.count}` : ' (Ctrl-C stops)'}; each look is itself logged (audit.queried)`,
    );
  }
  while (!signal.aborted) {
    // Newest first: the first look takes the newest page; later ones read on until an
    // alert seen before.
    const fresh: auditV1.AlertRecord[] = [];
    let pageToken = '';
    do {
      const page = await context.asStaff(credentials, (token) =>
        audit.call(
          'listAlerts',
          { pageSize: PAGE_SIZE, pageToken, unacknowledgedOnly: options.unacknowledged === true },
          callAs(token, true),
        ),
      );
      const known = page.alerts.findIndex((record) => seen.has(record.alert?.alertId ?? ''));
      fresh.push(...(known === -1 ? page.alerts : page.alerts.slice(0, known)));
      pageToken = first || known !== -1 ? '' : page.nextPageToken;
    } while (pageToken);
    for (const record of fresh) seen.add(record.alert?.alertId ?? '');
    const toShow = (first ? fresh.slice(0, options.last) : fresh).reverse();
    first = false;
    for (const record of toShow) {
      const view = viewOf(record);
      context.item(alertLine(view), view);
      if (options.count !== undefined && ++shown >= options.count) return;
    }
    await pause(options.interval * 1000, signal);
  }
}

export const alertsCommand: CliCommand = {
  register(program: Command, kit) {
    const alerts = program.command('alerts').description('the anomaly alerts of the audit service');
    withStaffOptions(
      alerts
        .command('tail')
        .description(
          'follow alerts as they are raised: the latest few first, then each new one (oldest first)',
        )
        .option(
          '--last <n>',
          'how many of the alerts already raised to show first',
          wholeNumber(0, PAGE_SIZE),
          10,
        )
        .option('--count <n>', 'stop after showing this many alerts', wholeNumber(1))
        .option('--interval <seconds>', 'how often to look (each look is logged)', seconds, 5)
        .option('--unacknowledged', 'only alerts no auditor has acknowledged'),
      'auditor',
    )
      .addHelpText(
        'after',
        '\nSigns in with the password and the STAFF_LOGIN code from the dev SMS inbox; the session is kept (0600) beside the platform description until it expires.',
      )
      .action(kit.action(tail));
  },
};
