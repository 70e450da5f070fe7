import { resourceExhausted, type VaxGuardError } from '@vaxguard/errors';

/**
 * How many calls a server takes on at once. Beyond either bound a call is refused at
 * once, before it is authenticated or read, instead of waiting in a queue whose latency
 * grows without bound: an overloaded service answers fast and says when to come back.
 */
export interface AdmissionLimits {
  /** Calls in flight across the whole server. */
  readonly total: number;
  /** Calls in flight for any one method, unless `methods` says otherwise. */
  readonly perMethod: number;
  /** Per-method bounds by full method path, for methods whose cost differs. */
  readonly methods?: Readonly<Record<string, number>>;
}

/**
 * Well above what a 2-core instance serves at its best (RecordDose peaks at a
 * concurrency of a few dozen), so only a flood meets it.
 */
export const DEFAULT_ADMISSION_LIMITS: AdmissionLimits = { total: 1_024, perMethod: 512 };

/** The retry hint of an overload refusal: long enough for the in-flight work to drain. */
export const OVERLOAD_RETRY_AFTER_MS = 200;

/** What is wrong with admission limits, one sentence each; empty when usable. */
export function admissionLimitProblems(limits: AdmissionLimits): string[] {
  const problems: string[] = [];
  const bounds = [
    ['total', limits.total],
    ['perMethod', limits.perMethod],
    ...Object.entries(limits.methods ?? {}),
  ] as const;
  for (const [name, bound] of bounds) {
    if (!Number.isInteger(bound) || bound < 1) {
      problems.push(`admission limit ${name} must be a whole number of at least 1 (got ${bound})`);
    }
  }
  return problems;
}

/** Counts the calls in flight, by method and in all, and admits or refuses each new one. */
export class Admission {
  private inFlight = 0;
  private readonly byMethod = new Map<string, number>();

  constructor(private readonly limits: AdmissionLimits = DEFAULT_ADMISSION_LIMITS) {
    const problems = admissionLimitProblems(limits);
    if (problems.length > 0) throw new Error(problems.join('; '));
  }

  /**
   * Admits a call of `method`, returning the function that releases its place (call it
   * once, when the call is over), or the refusal when a bound is reached.
   */
  admit(method: string): { release: () => void } | { refusal: VaxGuardError } {
    const running = this.byMethod.get(method) ?? 0;
    const bound = this.limits.methods?.[method] ?? this.limits.perMethod;
    if (this.inFlight >= this.limits.total || running >= bound) {
      return {
        refusal: resourceExhausted(
          'the service is at capacity; retry after the delay it gives',
          OVERLOAD_RETRY_AFTER_MS,
          { reason: 'SERVER_BUSY' },
        ),
      };
    }
    this.inFlight++;
    this.byMethod.set(method, running + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.inFlight--;
        const left = (this.byMethod.get(method) ?? 1) - 1;
        if (left === 0) this.byMethod.delete(method);
        else this.byMethod.set(method, left);
      },
    };
  }

  /** Calls in flight now, in all and for one method. */
  load(method?: string): number {
    return method === undefined ? this.inFlight : (this.byMethod.get(method) ?? 0);
  }
}
