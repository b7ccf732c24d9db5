import { ErrorCode, SkeinError } from '../util/errors.js';
import type { EpochClock } from '../env/clock.js';

export interface ErrorLogEntry {
  observationCount: number;
  firstObservationMs: number;
  lastObservationMs: number;
  /** The error's `code` property when it has a string one (SkeinError, Node system errors). */
  code: string | undefined;
  message: string;
  stack: string;
}

export const DEFAULT_ERROR_LOG_CAPACITY = 1000;

/**
 * Remembers each distinct error once, with how often and when it was seen. Two errors are the same
 * when they share code (or, without one, name), message and the first frame of their stack. At
 * most `capacity` distinct errors are kept; further new ones are counted in {@link overflowCount}
 * and dropped, while known ones keep counting.
 */
export class DistinctErrorLog {
  private readonly byKey = new Map<string, ErrorLogEntry>();
  private overflow = 0;
  private observations = 0;

  constructor(
    private readonly clock: EpochClock,
    readonly capacity: number = DEFAULT_ERROR_LOG_CAPACITY,
  ) {
    if (!(Number.isInteger(capacity) && capacity >= 1)) {
      throw new SkeinError(ErrorCode.CONFIG_INVALID, `error log capacity=${String(capacity)} is invalid; expected an integer >= 1`);
    }
  }

  /** Records one observation; returns false when the error is new and the log is full. */
  record(error: unknown): boolean {
    this.observations++;
    const nowMs = this.clock.epochMs();
    const { code, name, message, stack } = describe(error);
    const key = `${code ?? name}\u0000${message}\u0000${firstFrame(stack)}`;
    const known = this.byKey.get(key);
    if (known !== undefined) {
      known.observationCount++;
      known.lastObservationMs = nowMs;
      return true;
    }
    if (this.byKey.size >= this.capacity) {
      this.overflow++;
      return false;
    }
    this.byKey.set(key, { observationCount: 1, firstObservationMs: nowMs, lastObservationMs: nowMs, code, message, stack });
    return true;
  }

  /** Distinct errors in the order first seen (copies). */
  entries(): ReadonlyArray<ErrorLogEntry> {
    return [...this.byKey.values()].map((e) => ({ ...e }));
  }

  get distinctCount(): number {
    return this.byKey.size;
  }

  /** Observations of new errors dropped because the log was full. */
  get overflowCount(): number {
    return this.overflow;
  }

  /** Every observation recorded, including dropped ones. */
  get observationCount(): number {
    return this.observations;
  }
}

function describe(error: unknown): { code: string | undefined; name: string; message: string; stack: string } {
  if (error instanceof Error) {
    const rawCode = (error as { code?: unknown }).code;
    return {
      code: typeof rawCode === 'string' ? rawCode : undefined,
      name: error.name,
      message: error.message,
      stack: error.stack ?? `${error.name}: ${error.message}`,
    };
  }
  const message = safeString(error);
  return { code: undefined, name: typeof error, message, stack: message };
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function firstFrame(stack: string): string {
  for (const line of stack.split('\n')) {
    const trimmed = line.trim();
    if (trimmed.startsWith('at ')) return trimmed;
  }
  return '';
}
