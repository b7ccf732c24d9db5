import { ErrorCode, SkeinError } from '../util/errors.js';

/** How a runner backs off while its agent is idle. */
export interface IdleOptions {
  /** Idle cycles re-armed with setImmediate before timers are used. @default 10 */
  spinImmediates?: number;
  /** Longest sleep between idle cycles, in ms; sleeps double from 1 ms up to this. @default 10 */
  maxIdleMs?: number;
  /**
   * After work, keep re-arming with setImmediate for this long (µs) before timers are used, so an
   * answer that comes back within it is handled without waking from a sleep. @default 0
   */
  spinUs?: number;
}

export const DEFAULT_SPIN_IMMEDIATES = 10;
export const DEFAULT_MAX_IDLE_MS = 10;
const SPIN_IMMEDIATES_MAX = 1_000_000;
const MAX_IDLE_MS_MAX = 60_000;
const SPIN_US_MAX = 1_000_000;

/**
 * Back-off for an agent on the event loop. After each idle cycle, {@link nextDelayMs} says how to
 * wait before the next one: first `spinImmediates` times 0 (run again on the next setImmediate),
 * then 1, 2, 4, … ms capped at `maxIdleMs`. Work or a wake-up calls {@link reset}.
 */
export class BackoffIdleStrategy {
  readonly spinImmediates: number;
  readonly maxIdleMs: number;
  readonly spinNs: number;
  private idleCycles = 0;
  private delayMs = 0;
  private spinUntilNs = 0;

  constructor(options: IdleOptions = {}) {
    this.spinImmediates = options.spinImmediates ?? DEFAULT_SPIN_IMMEDIATES;
    this.maxIdleMs = options.maxIdleMs ?? DEFAULT_MAX_IDLE_MS;
    const spinUs = options.spinUs ?? 0;
    if (!(Number.isInteger(spinUs) && spinUs >= 0 && spinUs <= SPIN_US_MAX)) {
      throw new SkeinError(ErrorCode.CONFIG_INVALID, `idle.spinUs=${String(options.spinUs)} is invalid; expected an integer in [0, ${SPIN_US_MAX}]`);
    }
    this.spinNs = spinUs * 1000;
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

  /** Forgets the idle streak; with `nowNs` (work was done then), spins for spinUs from that time. */
  reset(nowNs?: number): void {
    this.idleCycles = 0;
    this.delayMs = 0;
    if (nowNs !== undefined) this.spinUntilNs = nowNs + this.spinNs;
  }

  /** Records one more idle cycle; returns 0 for "next setImmediate", else a timer delay in ms. */
  nextDelayMs(nowNs = 0): number {
    this.idleCycles++;
    if (this.idleCycles <= this.spinImmediates || nowNs < this.spinUntilNs) return 0;
    this.delayMs = this.delayMs === 0 ? 1 : Math.min(this.delayMs * 2, this.maxIdleMs);
    return this.delayMs;
  }

  /**
   * The most idle cycles a runner using this strategy can run in `windowMs` without work or
   * wake-ups (timers never fire early): the spins plus the timer sleeps that fit in the window.
   * The time-based spin (spinUs) follows work only, so it does not count here.
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
