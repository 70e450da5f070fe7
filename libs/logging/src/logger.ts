import { redactText, redactValue } from '@vaxguard/pii';
import { currentTraceId } from '@vaxguard/tracing';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(bindings: LogFields): Logger;
}

export interface LogSink {
  write(line: string): unknown;
}

export interface LoggerOptions {
  readonly service: string;
  readonly level?: LogLevel;
  /** Where JSON lines go; standard output by default. */
  readonly sink?: LogSink;
  readonly clock?: () => Date;
}

/**
 * A JSON-lines logger that scrubs every line: values under sensitive keys are blanked
 * and phone numbers, identity numbers, OTPs and tokens are replaced wherever they
 * appear, including inside error messages and stacks. A line written while a traced
 * span is active carries its trace's id (`trace_id`), so a trace's lines are found from
 * the trace and the other way round.
 */
export function createLogger(options: LoggerOptions): Logger {
  const threshold = LEVELS[options.level ?? 'info'];
  const sink = options.sink ?? process.stdout;
  const clock = options.clock ?? (() => new Date());

  const make = (bindings: LogFields): Logger => {
    const log = (level: LogLevel, message: string, fields?: LogFields): void => {
      if (LEVELS[level] < threshold) return;
      const record = redactValue({ ...bindings, ...fields }) as LogFields;
      // Random hex made by the tracer, never a person's data: it needs no scrubbing.
      const traceId = currentTraceId();
      const line = {
        time: clock().toISOString(),
        level,
        service: options.service,
        msg: redactText(message),
        ...(traceId === undefined ? {} : { trace_id: traceId }),
        ...record,
      };
      sink.write(`${JSON.stringify(line)}\n`);
    };
    return {
      debug: (message, fields) => log('debug', message, fields),
      info: (message, fields) => log('info', message, fields),
      warn: (message, fields) => log('warn', message, fields),
      error: (message, fields) => log('error', message, fields),
      child: (more) => make({ ...bindings, ...more }),
    };
  };
  return make({});
}

/** Collects log lines in memory: for tests that assert what was (not) logged. */
export class MemoryLogSink implements LogSink {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
  records(): LogFields[] {
    return this.lines.map((line) => JSON.parse(line) as LogFields);
  }
  text(): string {
    return this.lines.join('');
  }
}
