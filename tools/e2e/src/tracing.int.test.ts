// Issue 19, traces: with every service exporting to a real Jaeger, one RecordDose made by
// a client (this test, itself traced) through vaccination-record, identity (the
// beneficiary's facts, read with the vaccinator's consent grant) and Kafka (the dose's
// event, which audit appends to its log) is ONE trace, read back from Jaeger's query API
// with the spans and parents each hop gives it; and the line vaccination-record logs for
// the call carries the trace's id.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, eventsTopic } from '@vaxguard/event-catalogue';
import { identityStaffV1 } from '@vaxguard/proto';
import {
  callAs,
  eventually,
  jaegerBinary,
  startJaeger,
  startWorld,
  type JaegerSpan,
  type RunningJaeger,
  type World,
} from '@vaxguard/testing';
import { startTracing, type Tracing } from '@vaxguard/tracing';

const { STAFF_ROLE_VACCINATOR } = identityStaffV1.StaffRole;
const RECORD_DOSE = 'vaxguard.vaccination_record.v1.VaccinationRecordService/RecordDose';
const GET_BENEFICIARY = 'vaxguard.identity.v1.IdentityService/GetBeneficiary';
const DOSE_TOPIC = eventsTopic('vaccination-record');
/** Audit's log ingestion (services/audit log-ingestion.ts AUDIT_LOG_CONSUMER_GROUP). */
const AUDIT_LOG_GROUP = 'audit-log';

/** Today in India Standard Time, as RecordDose takes it. */
const indianToday = () => new Date(Date.now() + 5.5 * 3_600_000).toISOString().slice(0, 10);

/** The one span of `service` named `name` that `also` accepts; throws, listing the trace, if not one. */
function only(
  spans: readonly JaegerSpan[],
  service: string,
  name: string,
  also: (span: JaegerSpan) => boolean = () => true,
): JaegerSpan {
  const found = spans.filter((s) => s.service === service && s.operationName === name && also(s));
  if (found.length !== 1) {
    const seen = spans.map((s) => `${s.service}: ${s.operationName}`).join('\n  ');
    throw new Error(`${found.length} spans "${name}" of ${service}; the trace holds:\n  ${seen}`);
  }
  return found[0] as JaegerSpan;
}

describe('traces across gRPC and Kafka (issue 19)', () => {
  let dir: string | undefined;
  let jaeger: RunningJaeger | undefined;
  let world: World | undefined;
  let tracing: Tracing | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vaxguard-tracing-'));
    jaeger = await startJaeger({ dir, binary: jaegerBinary(process.env['VAXGUARD_CACHE_DIR']) });
    const exporting = { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint };
    world = await startWorld({
      env: {
        otp: exporting,
        identity: exporting,
        // Debug, for the line each call ends with ("call ok"), which is looked for below.
        'vaccination-record': { ...exporting, LOG_LEVEL: 'debug' },
        audit: exporting,
      },
    });
    // This test is the services' client, traced as any caller would be.
    tracing = await startTracing({ service: 'e2e-client', endpoint: jaeger.otlpEndpoint });
  }, 300_000);

  afterAll(async () => {
    await tracing?.shutdown();
    await world?.stop();
    await jaeger?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a RecordDose is one trace: the client, vaccination-record, identity, the outbox relay and audit', async () => {
    if (!world || !jaeger || !tracing) throw new Error('not started');
    const store = jaeger;
    const centreId = await world.centre();
    const mobile = world.freshMobile();
    const citizen = await world.citizen(mobile);
    const beneficiaryRef = await world.register(citizen, mobile);
    const vaccinator = await world.staff(STAFF_ROLE_VACCINATOR, centreId);
    const { txnId } = await world.clients.identity.call(
      'requestConsent',
      { target: { $case: 'beneficiaryRef', value: beneficiaryRef } },
      callAs(vaccinator.session),
    );
    const consentGrant = await world.confirm(txnId);
    const records = world.clients.records;

    const traceId = await trace.getTracer('e2e').startActiveSpan('record a dose', async (span) => {
      try {
        await records.call(
          'recordDose',
          {
            beneficiaryRef,
            vaccineCode: 'COVAXIN',
            doseNumber: 1,
            batchNumber: 'BB21044',
            administeredOn: indianToday(),
            clientRequestId: `trace-${randomBytes(8).toString('hex')}`,
            consentGrant,
          },
          callAs(vaccinator.session),
        );
        return span.spanContext().traceId;
      } finally {
        span.end();
      }
    });
    await tracing.flush();

    // Each hop exports on its own beat (a second's batch), audit's after the relay's poll.
    const hops = await eventually(
      async () => {
        const spans = await store.trace(traceId);
        const root = only(spans, 'e2e-client', 'record a dose');
        const client = only(spans, 'e2e-client', RECORD_DOSE);
        const recordDose = only(spans, 'vaccination-record', RECORD_DOSE);
        const askIdentity = only(spans, 'vaccination-record', GET_BENEFICIARY);
        const getBeneficiary = only(spans, 'identity', GET_BENEFICIARY);
        const publish = only(
          spans,
          'vaccination-record',
          `send ${DOSE_TOPIC}`,
          (s) => s.tags['vaxguard.event.type'] === EVENTS.doseRecorded.name,
        );
        const ingest = only(
          spans,
          'audit',
          `process ${DOSE_TOPIC}`,
          (s) =>
            s.tags['messaging.consumer.group.name'] === AUDIT_LOG_GROUP &&
            s.tags['messaging.message.id'] === publish.tags['messaging.message.id'],
        );
        return { spans, root, client, recordDose, askIdentity, getBeneficiary, publish, ingest };
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );

    // One trace, and each span the child of the hop before it.
    expect(new Set(hops.spans.map((span) => span.traceId))).toEqual(new Set([traceId]));
    expect(hops.client.parentSpanId).toBe(hops.root.spanId);
    expect(hops.recordDose.parentSpanId).toBe(hops.client.spanId);
    expect(hops.askIdentity.parentSpanId).toBe(hops.recordDose.spanId);
    expect(hops.getBeneficiary.parentSpanId).toBe(hops.askIdentity.spanId);
    expect(hops.publish.parentSpanId).toBe(hops.recordDose.spanId);
    expect(hops.ingest.parentSpanId).toBe(hops.publish.spanId);
    expect([
      hops.client.tags['span.kind'],
      hops.recordDose.tags['span.kind'],
      hops.publish.tags['span.kind'],
      hops.ingest.tags['span.kind'],
    ]).toEqual(['client', 'server', 'producer', 'consumer']);
    expect(hops.recordDose.tags).toMatchObject({
      'rpc.system.name': 'grpc',
      'rpc.method': RECORD_DOSE,
      'rpc.status_code': 'OK',
    });
    // The spans name methods, topics and event ids: never a request field.
    const attributes = JSON.stringify(hops.spans.map((span) => span.tags));
    for (const value of [beneficiaryRef, mobile, consentGrant, vaccinator.session]) {
      expect(attributes).not.toContain(value);
    }

    // The line vaccination-record wrote when it answered the call carries the trace id.
    const lines = (world.platform.processes['vaccination-record']?.output() ?? '')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: 'call ok', method: `/${RECORD_DOSE}`, trace_id: traceId }),
    );
  });
});
