import { status } from '@grpc/grpc-js';
import { isVaxGuardError } from '@vaxguard/errors';
import {
  Counter,
  Gauge,
  Histogram,
  LATENCY_BUCKETS_SECONDS,
  type Registry,
} from '@vaxguard/metrics';

/** The reason admission gives its refusals, which `grpc_server_admission_refused_total` counts. */
const ADMISSION_REFUSAL = 'SERVER_BUSY';

/** `/vaxguard.otp.v1.OtpService/GenerateOtp` as its service and method labels. */
export function methodLabels(path: string): { grpc_service: string; grpc_method: string } {
  const [, service = '', method = ''] = /^\/([^/]*)\/([^/]*)$/.exec(path) ?? [];
  return { grpc_service: service, grpc_method: method };
}

/** What a call reports when it is over: its status, and the error it ended with, if any. */
export type CallDone = (code: status, error?: unknown) => void;

/**
 * A server's RPC metrics, in the names grpc-ecosystem's interceptors use so dashboards
 * made for them read these: calls handled by service, method and status code, their
 * latency, the calls in flight, calls refused by admission, and RESOURCE_EXHAUSTED
 * quota refusals by their reason. Labels are the method's name, a status code's name
 * and an ErrorInfo reason: constants of the code, never a request's content.
 */
export class ServerMetrics {
  private readonly handled: Counter<'grpc_service' | 'grpc_method' | 'grpc_type' | 'grpc_code'>;
  private readonly latency: Histogram<'grpc_service' | 'grpc_method' | 'grpc_type'>;
  private readonly inFlight: Gauge<'grpc_service' | 'grpc_method'>;
  private readonly admissionRefused: Counter<'grpc_service' | 'grpc_method'>;
  private readonly quotaRefused: Counter<'grpc_service' | 'grpc_method' | 'reason'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.handled = new Counter({
      name: 'grpc_server_handled_total',
      help: 'gRPC calls completed on the server, by method and status code.',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'],
      registers,
    });
    this.latency = new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Time from a call arriving to its status being sent, in seconds.',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_type'],
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers,
    });
    this.inFlight = new Gauge({
      name: 'grpc_server_in_flight_calls',
      help: 'gRPC calls admitted and not yet answered.',
      labelNames: ['grpc_service', 'grpc_method'],
      registers,
    });
    this.admissionRefused = new Counter({
      name: 'grpc_server_admission_refused_total',
      help: 'Calls refused at once (RESOURCE_EXHAUSTED SERVER_BUSY) because the server was at capacity.',
      labelNames: ['grpc_service', 'grpc_method'],
      registers,
    });
    this.quotaRefused = new Counter({
      name: 'vaxguard_quota_refusals_total',
      help: 'Calls refused RESOURCE_EXHAUSTED by a quota, by the refusal reason (ErrorInfo).',
      labelNames: ['grpc_service', 'grpc_method', 'reason'],
      registers,
    });
  }

  /** A call refused by admission before it started: counted as handled, and as refused. */
  refusedByAdmission(path: string, type: 'unary' | 'server_stream'): void {
    const labels = methodLabels(path);
    this.admissionRefused.inc(labels);
    this.handled.inc({ ...labels, grpc_type: type, grpc_code: status[status.RESOURCE_EXHAUSTED] });
  }

  /** A call admitted now; the function returned is called once, when it is answered. */
  started(path: string, type: 'unary' | 'server_stream'): CallDone {
    const labels = methodLabels(path);
    const began = performance.now();
    this.inFlight.inc(labels);
    let done = false;
    return (code, error) => {
      if (done) return;
      done = true;
      this.inFlight.dec(labels);
      this.latency.observe({ ...labels, grpc_type: type }, (performance.now() - began) / 1000);
      this.handled.inc({ ...labels, grpc_type: type, grpc_code: status[code] ?? 'UNKNOWN' });
      if (code === status.RESOURCE_EXHAUSTED && isVaxGuardError(error)) {
        const reason = error.reason ?? 'UNSPECIFIED';
        if (reason !== ADMISSION_REFUSAL) this.quotaRefused.inc({ ...labels, reason });
      }
    };
  }
}
