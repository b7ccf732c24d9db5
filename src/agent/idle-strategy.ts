import { ErrorCode, SkeinError } from '../util/errors.js';

/** How a runner backs off while its agent is idle. */
export interface IdleOptions {
  /** Idle cycles re-armed with setImmediate before timers are used. @default 10 */
  spinImmediates?: number;
  /** Longest sleep between idle cycles, in ms; sleeps double from 1 ms up to this. @default 10 */
  maxIdleMs?: number;
}

export const DEFAULT_SPIN_IMMEDIATES = 10;
export const DEFAULT_MAX_IDLE_MS = 10;
const SPIN_IMMEDIATES_MAX = 1_000_000;
const MAX_IDLE_MS_MAX = 60_000;

/**
 * Back-off for an agent on the event loop. After each idle cycle, {@link nextDelayMs} says how to
 * wait before the next one: first `spinImmediates` times 0 (run again on the next setImmediate),
 * then 1, 2, 4, … ms capped at `maxIdleMs`. Work or a wake-up calls {@link reset}.
 */
export class BackoffIdleStrategy {
  readonly spinImmediates: number;
  readonly maxIdleMs: number;
  private idleCycles = 0;
  private delayMs = 0;

  constructor(options: IdleOptions = {}) {
    this.spinImmediates = options.spinImmediates ?? DEFAULT_SPIN_IMMEDIATES;
    this.maxIdleMs = options.maxIdleMs ?? DEFAULT_MAX_IDLE_MS;
    if (!(Number.isInteger(this.spinImmediates) && this.spinImmediates >= 0 && this.spinImmediates <= SPIN_IMMEDIATES_MAX)) {
      throw new SkeinError(
        ErrorCode.CONFIG_INVALID,
        `idle.spinImmediates=${String(options.spinImmediates)} is invalid; expected an integer in [0, ${SPIN_IMMEDIATES_MAX}]`,
      );
    }
    if (!(Number.isInteger(this.maxIdleMs) && this.maxIdleMs >= 1 && this.maxIdleMs <= MAX_IDLE_MS_MAX)) {
      throw new SkeinError(
        ErrorCode.CONFIG_INVALID,
        `idle.maxIdleMs=${String(options.maxIdleMs)} is invalid; expected an integer in [1, ${MAX_IDLE_MS_MAX}]`,
      );
    }
  }

  /** Forgets the idle streak. */
  reset(): void {
    this.idleCycles = 0;
    this.delayMs = 0;
  }

  /** Records one more idle cycle; returns 0 for "next setImmediate", else a timer delay in ms. */
  nextDelayMs(): number {
    this.idleCycles++;
    if (this.idleCycles <= this.spinImmediates) return 0;
    this.delayMs = this.delayMs === 0 ? 1 : Math.min(this.delayMs * 2, this.maxIdleMs);
    return this.delayMs;
  }

  /**
   * The most idle cycles a runner using this strategy can run in `windowMs` without work or
   * wake-ups (timers never fire early): the spins plus the timer sleeps that fit in the window.
   */
  maxIdleCyclesIn(windowMs: number): number {
    let cycles = 1 + this.spinImmediates;
    let elapsedMs = 0;
    let delayMs = 1;
    while (true) {
      elapsedMs += delayMs;
      if (elapsedMs > windowMs) return cycles;
      cycles++;
      delayMs = Math.min(delayMs * 2, this.maxIdleMs);
    }
  }
}
