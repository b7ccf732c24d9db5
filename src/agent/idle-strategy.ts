import { ErrorCode, SkeinError } from '../util/errors.js';
import { threadCpuUs } from '../env/thread-cpu.js';

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
  /**
   * With spinUs > 0: spin after work (the spinImmediates turns and spinUs) only while spinning
   * pays. A spin pays when the next work starts within twice spinUs of the last (caught by the
   * spin, or just after it, before this thread's CPU has gone into a deep sleep). After
   * {@link ADAPTIVE_SPIN_MISSES} spins in a row that did not pay, idle periods go to timers at
   * once, except one in {@link ADAPTIVE_SPIN_PROBE_PERIODS} that spins to see whether spinning
   * pays again. So sparse traffic neither burns the spin nor holds the CPU that the peer, just
   * woken by this process's own send, may be waiting for. @default true
   */
  adaptiveSpin?: boolean;
  /**
   * With adaptiveSpin and spinUs > 0: under dense traffic (work coming back within
   * {@link DENSE_GAP_NS} of the last, on average) the spin stretches to twice the usual gap, up
   * to that bound, so that bursts a little further apart than spinUs (many requests in flight)
   * are caught by the spin instead of waking a sleeping thread for each. Worth it when every
   * busy process has a core of its own, and only where work is dense too: the stretch needs the
   * work between idle periods to last at least a third of the gap ({@link DENSE_MIN_WORK_PER_GAP}),
   * so a light consumer of a steady stream still sleeps between messages. With more busy processes
   * than cores the stretched spins take CPU the others need (measured: two pairs of RPC consumer
   * and provider processes on two cores did half the calls). So the stretch is also held back
   * while the CPU is contended: while this process gets less than {@link CONTENDED_CPU_SHARE} of
   * the time its event loop is active
   * (not waiting for events) as CPU time, measured per {@link CONTENTION_WINDOW_NS} and smoothed,
   * and for {@link CONTENTION_HOLD_WINDOWS} windows (more while it stays contended) after.
   * @default false here; true for Skein.launch and SkeinWorker ({@link SKEIN_IDLE_DEFAULTS})
   */
  denseSpin?: boolean;
  /**
   * Where the turn of a sleeping runner that is woken ({@link AgentRunner.wake}) runs. True: in a
   * microtask, as soon as the code that woke it (a datagram's handler, say) returns, before the
   * event loop hands over the next I/O callback: one event-loop pass fewer per request. False: on
   * the next setImmediate, after every I/O callback ready in the same pass: datagrams that arrive
   * together are then taken in one duty cycle. That matters where a duty cycle's work costs per
   * cycle, not per message: a cluster member that syncs its log before acknowledging wrote and
   * synced each of a client's back-to-back datagrams on its own when woken in a microtask
   * (docs/cluster-benchmark.md, "Woken after the ready datagrams").
   * @default true
   */
  wakeInMicrotask?: boolean;
}

/** What denseSpin's contention check reads: running totals, in µs. */
export interface CpuShareSource {
  /** CPU time the thread running the event loop has used (user and system). */
  cpuUs(): number;
  /** Time its event loop has been active, not waiting for events. */
  activeUs(): number;
}

/** The calling thread's CPU time ({@link threadCpuUs}) and `performance.eventLoopUtilization()`. */
export const processCpuShare: CpuShareSource = {
  cpuUs: threadCpuUs,
  activeUs: () => performance.eventLoopUtilization().active * 1000,
};

/** With denseSpin: how often the share of CPU time while the event loop is active is measured. */
export const CONTENTION_WINDOW_NS = 20_000_000;
/** With denseSpin: a window in which the event loop was active for less than this says nothing about contention. */
const CONTENTION_MIN_ACTIVE_NS = 4_000_000;
/** With denseSpin: below this share of its event loop's active time as CPU time (smoothed), the process is taken to wait for a CPU, and the stretch stops. */
export const CONTENDED_CPU_SHARE = 0.8;
/** With denseSpin: after the last contended window the stretch stays held back this many windows; twice as many (up to 400) each time contention returns within that long of a hold's end. */
export const CONTENTION_HOLD_WINDOWS = 25;
const CONTENTION_HOLD_WINDOWS_MAX = 400;

/** While adaptive spinning holds the spin back, one idle period in this many spins to see whether it pays again. */
export const ADAPTIVE_SPIN_PROBE_PERIODS = 8;
/** Spins in a row that must not pay before adaptive spinning stops spinning. */
export const ADAPTIVE_SPIN_MISSES = 4;
/** With denseSpin: idle periods shorter than this on average (smoothed) are dense traffic, and the spin stretches to cover them. */
export const DENSE_GAP_NS = 500_000;
/**
 * With denseSpin: the stretch applies only while the work between idle periods (smoothed) is at
 * least the smoothed gap divided by this, so that spinning at most triples a process's CPU time: a
 * subscriber taking 5,000 small messages a second, each a few µs of work, is left to sleep between
 * them (measured: the stretch held one at 96% of a core against 19% without it).
 */
export const DENSE_MIN_WORK_PER_GAP = 3;
/** The stretched spin covers this many times the smoothed gap (up to DENSE_GAP_NS). */
const DENSE_SPIN_FACTOR = 2;

export const DEFAULT_SPIN_IMMEDIATES = 10;
export const DEFAULT_MAX_IDLE_MS = 10;

/** How Skein's runners idle unless told otherwise (the `idle` option of Skein.launch and SkeinWorker). */
export const SKEIN_IDLE_DEFAULTS: Readonly<IdleOptions> = Object.freeze({ spinImmediates: 4, spinUs: 50, maxIdleMs: 50, adaptiveSpin: true, denseSpin: true });
const SPIN_IMMEDIATES_MAX = 1_000_000;
const MAX_IDLE_MS_MAX = 60_000;
const SPIN_US_MAX = 1_000_000;

/**
 * Back-off for an agent on the event loop. After each idle cycle, {@link nextDelayMs} says how to
 * wait before the next one: first `spinImmediates` times 0 (run again on the next setImmediate),
 * and 0 again until `spinUs` after the last work, then 1, 2, 4, … ms capped at `maxIdleMs`. Work
 * calls {@link onWork}, a wake-up {@link reset}. With `adaptiveSpin` (and spinUs > 0) the spin
 * (both the turns and the time) is left out while spins end before work comes back.
 */
export class BackoffIdleStrategy {
  readonly spinImmediates: number;
  readonly maxIdleMs: number;
  readonly spinNs: number;
  readonly adaptiveSpin: boolean;
  readonly denseSpin: boolean;
  private idleCycles = 0;
  private delayMs = 0;
  private spinUntilNs = 0;
  /** An idle cycle ran since the last work, so the next work ends an idle period. */
  private waited = false;
  /** When the last busy turn ended. */
  private lastWorkEndNs = 0;
  /** Whether the idle period after the last work spins. */
  private spinAfterWork = true;
  /** Spins in a row that did not pay (adaptive spinning). */
  private misses = 0;
  /** Idle periods without a spin since spinning stopped paying (adaptive spinning). */
  private periodsWithoutSpin = 0;
  /** Smoothed length of the idle periods between work (0 before the first). */
  private gapNs = 0;
  /** The spin in effect for the current idle period. */
  private spinForNs = 0;
  /** Work (busy turns) since the last idle period ended, and its smoothed length per period between idle periods. */
  private periodWorkNs = 0;
  private busyNs = 0;
  private readonly share: CpuShareSource;
  /** With denseSpin: the current contention window (start, CPU and active time at its start). */
  private windowStartNs = -1;
  private windowCpuUs = 0;
  private windowActiveUs = 0;
  /** With denseSpin: the last full window found the CPU contended. */
  private contendedValue = false;
  /** With denseSpin: how many windows the stretch stays held back after the last contended one. */
  private holdWindows = CONTENTION_HOLD_WINDOWS;
  private heldUntilNs = 0;
  /** When the last hold ended. */
  private releasedNs = -Infinity;
  /** With denseSpin: the share of the event loop's active time got as CPU time, smoothed over windows (-1 before the first). */
  private cpuShare = -1;

  /** `share` is what denseSpin's contention check reads (tests pass their own). */
  constructor(options: IdleOptions = {}, share: CpuShareSource = processCpuShare) {
    this.share = share;
    this.spinImmediates = options.spinImmediates ?? DEFAULT_SPIN_IMMEDIATES;
    this.maxIdleMs = options.maxIdleMs ?? DEFAULT_MAX_IDLE_MS;
    const spinUs = options.spinUs ?? 0;
    if (!(Number.isInteger(spinUs) && spinUs >= 0 && spinUs <= SPIN_US_MAX)) {
      throw new SkeinError(ErrorCode.CONFIG_INVALID, `idle.spinUs=${String(options.spinUs)} is invalid; expected an integer in [0, ${SPIN_US_MAX}]`);
    }
    this.spinNs = spinUs * 1000;
    this.adaptiveSpin = options.adaptiveSpin ?? true;
    if (typeof this.adaptiveSpin !== 'boolean') {
      throw new SkeinError(ErrorCode.CONFIG_INVALID, `idle.adaptiveSpin=${String(options.adaptiveSpin)} is invalid; expected true or false`);
    }
    this.denseSpin = options.denseSpin ?? false;
    if (typeof this.denseSpin !== 'boolean') {
      throw new SkeinError(ErrorCode.CONFIG_INVALID, `idle.denseSpin=${String(options.denseSpin)} is invalid; expected true or false`);
    }
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

  /** Whether the idle period after the last work spins (false while adaptive spinning holds it back). */
  get spinning(): boolean {
    return this.spinAfterWork;
  }

  /** Forgets the idle streak (a wake-up): the spin turns start over; the spin time is unchanged. */
  reset(): void {
    this.idleCycles = 0;
    this.delayMs = 0;
  }

  /**
   * Work was done in a turn from `startNs` to `endNs`: forgets the idle streak and spins for spinUs
   * from `endNs`. With adaptive spinning it first learns from the idle period this turn ended, and
   * decides whether the next one spins.
   */
  onWork(startNs: number, endNs: number): void {
    this.reset();
    if (this.waited && this.adaptiveSpin && this.spinNs > 0) {
      this.learn(startNs);
      const gap = Math.max(0, startNs - this.lastWorkEndNs);
      this.gapNs = this.gapNs === 0 ? gap : this.gapNs + (gap - this.gapNs) / 8;
      this.busyNs = this.busyNs === 0 ? this.periodWorkNs : this.busyNs + (this.periodWorkNs - this.busyNs) / 8;
      this.periodWorkNs = 0;
    }
    this.waited = false;
    this.periodWorkNs += Math.max(0, endNs - startNs);
    this.lastWorkEndNs = endNs;
    this.spinForNs = this.spinNs;
    if (this.denseSpin && this.adaptiveSpin && this.spinNs > 0) {
      this.checkContention(endNs);
      if (!this.contendedValue && this.gapNs > 0 && this.gapNs < DENSE_GAP_NS && this.busyNs * DENSE_MIN_WORK_PER_GAP >= this.gapNs) {
        this.spinForNs = Math.max(this.spinNs, Math.min(DENSE_SPIN_FACTOR * this.gapNs, DENSE_GAP_NS));
      }
    }
    this.spinUntilNs = endNs + this.spinForNs;
  }

  /** How long the idle period after the last work spins, in ns: spinUs, stretched under dense traffic with denseSpin. */
  get currentSpinNs(): number {
    return this.spinForNs;
  }

  /** With denseSpin: whether the last contention window found this process waiting for a CPU (the stretch is then held back). */
  get contended(): boolean {
    return this.contendedValue;
  }

  /** Records one more idle cycle; returns 0 for "next setImmediate", else a timer delay in ms. */
  nextDelayMs(nowNs = 0): number {
    this.waited = true;
    this.idleCycles++;
    if (this.spinAfterWork && (this.idleCycles <= this.spinImmediates || nowNs < this.spinUntilNs)) return 0;
    this.delayMs = this.delayMs === 0 ? 1 : Math.min(this.delayMs * 2, this.maxIdleMs);
    return this.delayMs;
  }

  /**
   * With denseSpin, once per window: the share of the time the event loop was active that this
   * process got as CPU time. A loop that spins or works whenever it is not waiting for events gets
   * nearly all of it as CPU time, unless it waits for a CPU that others hold (or blocks in a system
   * call, which is no time to spin either).
   */
  private checkContention(nowNs: number): void {
    if (this.windowStartNs < 0) {
      this.startWindow(nowNs);
      return;
    }
    const elapsedNs = nowNs - this.windowStartNs;
    if (elapsedNs < CONTENTION_WINDOW_NS) return;
    const cpuUs = this.share.cpuUs();
    const activeUs = this.share.activeUs();
    const activeNs = (activeUs - this.windowActiveUs) * 1000;
    if (activeNs >= CONTENTION_MIN_ACTIVE_NS) {
      const share = ((cpuUs - this.windowCpuUs) * 1000) / activeNs;
      // Smoothed: a window now and then in which the OS ran something else says nothing.
      this.cpuShare = this.cpuShare < 0 ? share : this.cpuShare + (share - this.cpuShare) / 4;
      if (this.cpuShare < CONTENDED_CPU_SHARE) {
        if (!this.contendedValue) {
          // Contended again soon after a hold ended: the stretch itself brought it back; hold longer.
          const soon = nowNs - this.releasedNs < CONTENTION_HOLD_WINDOWS * CONTENTION_WINDOW_NS;
          this.holdWindows = soon ? Math.min(this.holdWindows * 2, CONTENTION_HOLD_WINDOWS_MAX) : CONTENTION_HOLD_WINDOWS;
          this.contendedValue = true;
        }
        // Held back for a while after the last contended window: without the stretch the CPU
        // frees up, and the next windows would read uncontended while the others still need it.
        this.heldUntilNs = nowNs + this.holdWindows * CONTENTION_WINDOW_NS;
      } else if (this.contendedValue && nowNs >= this.heldUntilNs) {
        this.contendedValue = false;
        this.releasedNs = nowNs;
      }
    }
    this.startWindow(nowNs, cpuUs, activeUs);
  }

  private startWindow(nowNs: number, cpuUs = this.share.cpuUs(), activeUs = this.share.activeUs()): void {
    this.windowStartNs = nowNs;
    this.windowCpuUs = cpuUs;
    this.windowActiveUs = activeUs;
  }

  /** Adaptive spinning: whether the idle period that work starting at `startNs` ended spun, and paid. */
  private learn(startNs: number): void {
    if (this.spinAfterWork) {
      const paid = startNs - this.lastWorkEndNs <= 2 * Math.max(this.spinNs, this.spinForNs);
      this.misses = paid ? 0 : Math.min(this.misses + 1, ADAPTIVE_SPIN_MISSES);
      this.periodsWithoutSpin = 0;
    } else {
      this.periodsWithoutSpin++;
    }
    this.spinAfterWork = this.misses < ADAPTIVE_SPIN_MISSES || this.periodsWithoutSpin >= ADAPTIVE_SPIN_PROBE_PERIODS - 1;
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
