import { ACTOR_KIND, enumMapping, SubjectKind, type SubjectRef } from '@vaxguard/event-catalogue';
import { auditV1 } from '@vaxguard/proto';
import type {
  ActorKind,
  Alert,
  AlertPrincipal,
  AutomaticResponse,
  Severity,
} from '../domain/anomaly-model';
import type { ResponseOutcome, StoredAlert } from '../domain/alert-desk';

export const SEVERITY = enumMapping<Severity, auditV1.Severity>({
  LOW: auditV1.Severity.SEVERITY_LOW,
  MEDIUM: auditV1.Severity.SEVERITY_MEDIUM,
  HIGH: auditV1.Severity.SEVERITY_HIGH,
  CRITICAL: auditV1.Severity.SEVERITY_CRITICAL,
});

export const AUTOMATIC_RESPONSE = enumMapping<AutomaticResponse, auditV1.AutomaticResponse>({
  NONE: auditV1.AutomaticResponse.AUTOMATIC_RESPONSE_NONE,
  SUSPEND_STAFF: auditV1.AutomaticResponse.AUTOMATIC_RESPONSE_SUSPEND_STAFF,
  LOCK_PARTNER: auditV1.AutomaticResponse.AUTOMATIC_RESPONSE_LOCK_PARTNER,
});

export const ALERT_PRINCIPAL_KIND = enumMapping<ActorKind | 'MOBILE', auditV1.AlertPrincipalKind>({
  STAFF: auditV1.AlertPrincipalKind.ALERT_PRINCIPAL_KIND_STAFF,
  PARTNER_CLIENT: auditV1.AlertPrincipalKind.ALERT_PRINCIPAL_KIND_PARTNER_CLIENT,
  CITIZEN: auditV1.AlertPrincipalKind.ALERT_PRINCIPAL_KIND_CITIZEN,
  SERVICE: auditV1.AlertPrincipalKind.ALERT_PRINCIPAL_KIND_SERVICE,
  MOBILE: auditV1.AlertPrincipalKind.ALERT_PRINCIPAL_KIND_MOBILE,
});

export const RESPONSE_OUTCOME = enumMapping<ResponseOutcome, auditV1.ResponseOutcome>({
  DONE: auditV1.ResponseOutcome.RESPONSE_OUTCOME_DONE,
  REFUSED: auditV1.ResponseOutcome.RESPONSE_OUTCOME_REFUSED,
});

/** An alert as it is published (the `security.alert` payload) and served. */
export function alertMessageOf(alertId: string, alert: Alert): auditV1.Alert {
  return {
    alertId,
    rule: alert.rule,
    severity: SEVERITY.toProto(alert.severity),
    principalKind: ALERT_PRINCIPAL_KIND.toProto(alert.principal.kind),
    principalId: alert.principal.id,
    window: {
      name: alert.window.name,
      startsAt: alert.window.startsAt,
      endsAt: alert.window.endsAt,
      observed: alert.window.observed,
      threshold: alert.window.threshold,
      usual: alert.window.usual ?? 0,
    },
    response: AUTOMATIC_RESPONSE.toProto(alert.response),
    raisedAt: alert.raisedAt,
    raisedBy: {
      kind: ACTOR_KIND.toProto(alert.raisedBy.kind),
      principalId: alert.raisedBy.principalId,
      clientId: alert.raisedBy.clientId,
    },
  };
}

export function alertRecordOf(stored: StoredAlert): auditV1.AlertRecord {
  return {
    alert: alertMessageOf(stored.alertId, stored.alert),
    acknowledgedAt: stored.acknowledgedAt,
    acknowledgedBy: stored.acknowledgedBy ?? '',
    responseOutcome: stored.responseOutcome
      ? RESPONSE_OUTCOME.toProto(stored.responseOutcome)
      : auditV1.ResponseOutcome.RESPONSE_OUTCOME_UNSPECIFIED,
    responseAt: stored.responseAt,
  };
}

/** The subject of an alert's events: the principal it is about. */
export function subjectOfPrincipal(principal: AlertPrincipal): SubjectRef {
  const kind = {
    STAFF: SubjectKind.SUBJECT_KIND_STAFF,
    PARTNER_CLIENT: SubjectKind.SUBJECT_KIND_PARTNER_CLIENT,
    CITIZEN: SubjectKind.SUBJECT_KIND_MOBILE,
    MOBILE: SubjectKind.SUBJECT_KIND_MOBILE,
    SERVICE: SubjectKind.SUBJECT_KIND_SYSTEM,
  }[principal.kind];
  return { kind, ref: principal.id };
}
