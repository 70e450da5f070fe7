import { resourceExhausted, type VaxGuardError } from '@vaxguard/errors';

/**
 * How many calls a server takes on at once. Beyond a bound a call is refused at once,
 * before it is authenticated or read, instead of waiting in a queue whose latency grows
 * without bound: an overloaded service answers fast and says when to come back.
 *
 * Two kinds of bound. Fixed ceilings (`total`, `perMethod`, `methods`) that no load
 * passes. Under them, each unary method has a limit that adapts to the latency its
 * admitted calls see (`adaptive`, below): a fixed count cannot be right for every
 * method and machine (RecordDose serves ~600 calls/s on a shared 2-core machine, so 512
 * in flight is most of a second of queue there, and a password check is slower still).
 */
export interface AdmissionLimits {
  /** Calls in flight across the whole server. */
  readonly total: number;
  /** Calls in flight for any one method, unless `methods` says otherwise. */
  readonly perMethod: number;
  /** Per-method ceilings by full method path, for methods whose cost differs. */
  readonly methods?: Readonly<Record<string, number>>;
  /** Each unary method's limit from its observed latency; absent: the ceilings only. */
  readonly adaptive?: AdaptiveLimitOptions;
}

/**
 * A concurrency limit per method kept from the latency its admitted calls see, so that
 * the calls admitted are answered within about `targetLatencyMs` and the rest refused.
 *
 * Why this form. The queue that makes latency grow is not one we hold: it is spread over
 * the event loop, the database pool, the group committer and PostgreSQL, so its length
 * cannot be read, only its effect on latency. By Little's law a method whose calls take
 * L with N in flight serves N/L a second; holding N at N·T/L (T the target) keeps the
 * throughput and brings latency to T. So after each window of completed calls:
 *
 * - the window's 90th-percentile latency above the target: the limit becomes the mean
 *   number in flight times target/observed (a standing queue, cut in one step; at most
 *   halved per window, never below `minLimit`);
 * - at or under the target while the limit was reached (a call refused, or every place
 *   taken): the limit grows by a tenth (at least 1), up to the method's ceiling: there
 *   may be room;
 * - otherwise it stays: latency says nothing about a limit the load never reached.
 *
 * Only calls admitted after the last change count towards the next decision, so a
 * backlog admitted under an older, higher limit is not cut for twice. This is the
 * gradient idea of Netflix's concurrency-limits with an absolute latency target instead
 * of the minimum latency seen (which drifts up under sustained load, taking the limit
 * with it); AIMD alone would cut by a fixed ratio and oscillate more. Server-streaming
 * calls (an export that lasts minutes) keep the fixed ceilings only.
 */
export interface AdaptiveLimitOptions {
  /** The latency admitted calls are held to (the window's 90th percentile). */
  readonly targetLatencyMs: number;
  /** The least a method's limit falls to, however slow its calls. */
  readonly minLimit: number;
  /** A method's limit before anything was measured. */
  readonly initialLimit: number;
}

/**
 * A method's adaptive limit, where a service turns it on: it starts at 64 and adapts to
 * hold its calls' p90 at 50 ms (p99 under 100 ms is the overload goal of issue 18),
 * never below 8.
 */
export const DEFAULT_ADAPTIVE_LIMIT: AdaptiveLimitOptions = {
  targetLatencyMs: 50,
  minLimit: 8,
  initialLimit: 64,
};

/**
 * The fixed ceilings alone, far above what a 2-core instance serves, so only a flood
 * meets them. The adaptive limit is a service's choice (GRPC_ADMISSION_ADAPTIVE, on by
 * default in vaccination-record): with it a flood of cheap calls that a service means to
 * answer itself (a quota's refusal, say) meets SERVER_BUSY first.
 */
export const DEFAULT_ADMISSION_LIMITS: AdmissionLimits = { total: 1_024, perMethod: 512 };

/** The retry hint of an overload refusal: long enough for the in-flight work to drain. */
export const OVERLOAD_RETRY_AFTER_MS = 200;

/** A decision needs this long of completed calls, and at least this many of them. */
export const ADAPTIVE_WINDOW_MS = 100;
export const ADAPTIVE_WINDOW_MIN_CALLS = 8;
/** A window this full is decided on at once, however short (a flood fills it fast). */
export const ADAPTIVE_WINDOW_MAX_CALLS = 500;
/** The window's latency that is held to the target. */
const ADAPTIVE_QUANTILE = 0.9;
/** At most this cut in one window (the rest, if still too slow, in the next). */
const ADAPTIVE_MAX_CUT = 0.5;
/** Growth in one window when there may be room. */
const ADAPTIVE_GROWTH = 1.1;

/** What is wrong with admission limits, one sentence each; empty when usable. */
export function admissionLimitProblems(limits: AdmissionLimits): string[] {
  const problems: string[] = [];
  const bounds: [string, number][] = [
    ['total', limits.total],
    ['perMethod', limits.perMethod],
    ...Object.entries(limits.methods ?? {}),
  ];
  if (limits.adaptive) {
    bounds.push(
      ['adaptive minLimit', limits.adaptive.minLimit],
      ['adaptive initialLimit', limits.adaptive.initialLimit],
      ['adaptive targetLatencyMs', limits.adaptive.targetLatencyMs],
    );
  }
  for (const [name, bound] of bounds) {
    if (!Number.isInteger(bound) || bound < 1) {
      problems.push(`admission limit ${name} must be a whole number of at least 1 (got ${bound})`);
    }
  }
  if (limits.adaptive && limits.adaptive.minLimit > limits.adaptive.initialLimit) {
    problems.push(
      `admission limit adaptive minLimit (${limits.adaptive.minLimit}) must not exceed initialLimit (${limits.adaptive.initialLimit})`,
    );
  }
  return problems;
}

/** One method's adaptive limit: fed each admitted call's latency, decides per window. */
export class AdaptiveLimit {
  private current: number;
  /** Bumped at each change; a call counts only towards the window of its own epoch. */
  private epoch = 0;
  private windowStart: number;
  private latencies: number[] = [];
  private inFlightSum = 0;
  private admissions = 0;
  private reached = false;

  constructor(
    private readonly options: AdaptiveLimitOptions,
    private readonly ceiling: number,
    private readonly now: () => number,
  ) {
    this.current = Math.min(ceiling, options.initialLimit);
    this.windowStart = now();
  }

  get limit(): number {
    return this.current;
  }

  /** A call refused by this limit: the limit was reached in this window. */
  refused(): void {
    this.reached = true;
  }

  /** A call admitted with `inFlight` of the method's calls running, itself included. */
  admitted(inFlight: number): number {
    this.inFlightSum += inFlight;
    this.admissions++;
    if (inFlight >= this.current) this.reached = true;
    return this.epoch;
  }

  /** A call admitted in `epoch` took `latencyMs`. */
  completed(epoch: number, latencyMs: number): void {
    if (epoch !== this.epoch) return;
    this.latencies.push(latencyMs);
    const elapsed = this.now() - this.windowStart;
    const enough =
      (elapsed >= ADAPTIVE_WINDOW_MS && this.latencies.length >= ADAPTIVE_WINDOW_MIN_CALLS) ||
      this.latencies.length >= ADAPTIVE_WINDOW_MAX_CALLS;
    if (enough) this.decide();
  }

  private decide(): void {
    const sorted = this.latencies.sort((a, b) => a - b);
    const observed =
      sorted[Math.min(sorted.length - 1, Math.floor(ADAPTIVE_QUANTILE * sorted.length))] ?? 0;
    const { targetLatencyMs, minLimit } = this.options;
    let next = this.current;
    if (observed > targetLatencyMs) {
      const meanInFlight = this.admissions > 0 ? this.inFlightSum / this.admissions : this.current;
      const factor = Math.max(ADAPTIVE_MAX_CUT, targetLatencyMs / observed);
      next = Math.max(minLimit, Math.min(this.current, Math.floor(meanInFlight * factor)));
    } else if (this.reached) {
      next = Math.min(
        this.ceiling,
        Math.max(this.current + 1, Math.floor(this.current * ADAPTIVE_GROWTH)),
      );
    }
    if (next !== this.current) {
      this.current = next;
      this.epoch++;
    }
    this.windowStart = this.now();
    this.latencies = [];
    this.inFlightSum = 0;
    this.admissions = 0;
    this.reached = false;
  }
}

/**
 * Counts the calls in flight, by method and in all, and admits or refuses each new one:
 * beyond a fixed ceiling, or beyond the method's adaptive limit for a measured call.
 */
export class Admission {
  private inFlight = 0;
  private readonly byMethod = new Map<string, number>();
  private readonly adaptive = new Map<string, AdaptiveLimit>();

  constructor(
    private readonly limits: AdmissionLimits = DEFAULT_ADMISSION_LIMITS,
    private readonly now: () => number = () => performance.now(),
  ) {
    const problems = admissionLimitProblems(limits);
    if (problems.length > 0) throw new Error(problems.join('; '));
  }

  /**
   * Admits a call of `method`, returning the function that releases its place (call it
   * once, when the call is over), or the refusal when a bound is reached. A call that is
   * `measured` (the default; a stream is not) is held to the method's adaptive limit, and
   * its latency, from admission to release, feeds it.
   */
  admit(
    method: string,
    options: { readonly measured?: boolean } = {},
  ): { release: () => void } | { refusal: VaxGuardError } {
    const running = this.byMethod.get(method) ?? 0;
    const ceiling = this.ceilingOf(method);
    const adaptive = options.measured === false ? undefined : this.adaptiveLimitOf(method);
    if (this.inFlight >= this.limits.total || running >= ceiling) return { refusal: busy() };
    if (adaptive && running >= adaptive.limit) {
      adaptive.refused();
      return { refusal: busy() };
    }
    this.inFlight++;
    this.byMethod.set(method, running + 1);
    const epoch = adaptive?.admitted(running + 1);
    const admittedAt = this.now();
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.inFlight--;
        const left = (this.byMethod.get(method) ?? 1) - 1;
        if (left === 0) this.byMethod.delete(method);
        else this.byMethod.set(method, left);
        if (adaptive && epoch !== undefined) adaptive.completed(epoch, this.now() - admittedAt);
      },
    };
  }

  /** Calls in flight now, in all and for one method. */
  load(method?: string): number {
    return method === undefined ? this.inFlight : (this.byMethod.get(method) ?? 0);
  }

  /** How many calls of `method` are admitted at once now: its adaptive limit, or its ceiling. */
  limitOf(method: string): number {
    const ceiling = this.ceilingOf(method);
    const adaptive = this.adaptive.get(method)?.limit ?? this.limits.adaptive?.initialLimit;
    return adaptive === undefined ? ceiling : Math.min(ceiling, adaptive);
  }

  private ceilingOf(method: string): number {
    return this.limits.methods?.[method] ?? this.limits.perMethod;
  }

  private adaptiveLimitOf(method: string): AdaptiveLimit | undefined {
    if (!this.limits.adaptive) return undefined;
    let limit = this.adaptive.get(method);
    if (!limit) {
      limit = new AdaptiveLimit(this.limits.adaptive, this.ceilingOf(method), this.now);
      this.adaptive.set(method, limit);
    }
    return limit;
  }
}

function busy(): VaxGuardError {
  return resourceExhausted(
    'the service is at capacity; retry after the delay it gives',
    OVERLOAD_RETRY_AFTER_MS,
    { reason: 'SERVER_BUSY' },
  );
}
