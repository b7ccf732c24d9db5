import { ErrorCode, SkeinError } from '../util/errors.js';
import type { NanoClock } from '../env/clock.js';
import { nodeTimers, type TimerHandle, type Timers } from '../env/timers.js';
import type { Agent } from './agent.js';
import { AgentInvoker, type ErrorHandler } from './agent-invoker.js';
import { BackoffIdleStrategy, type IdleOptions } from './idle-strategy.js';

export interface AgentRunnerOptions {
  clock: NanoClock;
  /** Receives every error the agent throws (except AssertionFailure, which is rethrown). */
  errorHandler: ErrorHandler;
  idle?: IdleOptions;
  /** @default nodeTimers */
  timers?: Timers;
  /** Longest run of consecutive busy cycles within one event-loop turn, in ns. @default 1_000_000 */
  maxBatchNs?: number;
  /** Most cycles within one event-loop turn. @default 64 */
  maxCyclesPerTurn?: number;
  /**
   * Word 0 is set to 1 (with `Atomics.store`) while the runner sleeps on a timer and to 0 when it
   * runs again, so agents' peers in other threads can tell whether a wake message is needed.
   */
  sleepFlag?: Int32Array;
  /**
   * Told once when the runner stops because the agent broke an invariant (an AssertionFailure)
   * or the error handler threw, before that error propagates; the owner marks what it runs failed.
   */
  onFailure?: (error: unknown) => void;
}

export const DEFAULT_MAX_BATCH_NS = 1_000_000;
export const DEFAULT_MAX_CYCLES_PER_TURN = 64;

type RunnerState = 'new' | 'running' | 'failed' | 'closed';

/**
 * Runs one agent on the Node event loop without blocking it. Each turn runs duty cycles while the
 * agent reports work, for at most `maxBatchNs` and `maxCyclesPerTurn` cycles, then yields with
 * setImmediate so I/O gets its turn. While idle it backs off (see {@link BackoffIdleStrategy}):
 * a few more setImmediate turns (while spinning pays), then timers of 1, 2, 4 … up to `maxIdleMs`
 * ms. {@link wake} cuts a sleep short: the agent runs in a microtask, as soon as the code that
 * woke it (a datagram's handler, a timer callback, a promise continuation) returns, without
 * waiting for another event-loop phase (with `idle.wakeInMicrotask` false: on the next
 * setImmediate, after the other I/O callbacks ready with it).
 *
 * An AssertionFailure thrown by the agent (or any error thrown by the error handler) stops the
 * runner and propagates out of the timer callback as an uncaught exception: a broken invariant is
 * loud.
 */
export class AgentRunner {
  private readonly invoker: AgentInvoker;
  private readonly clock: NanoClock;
  private readonly timers: Timers;
  private readonly idle: BackoffIdleStrategy;
  private readonly maxBatchNs: number;
  private readonly maxCyclesPerTurn: number;
  private readonly runTurn: () => void;
  private readonly runWokenTurn: () => void;
  private state: RunnerState = 'new';
  private immediate: TimerHandle | null = null;
  private timeout: TimerHandle | null = null;
  /** A turn is queued as a microtask (which cannot be cancelled: it checks this flag). */
  private microtask = false;
  /** A wake-up arrived since the current or last duty cycle began: another cycle is due. */
  private woken = false;
  private cycles = 0;
  private readonly sleepFlag: Int32Array | null;
  private readonly onFailure: ((error: unknown) => void) | undefined;
  private readonly wakeInMicrotask: boolean;
  private sleeping = false;

  constructor(
    readonly agent: Agent,
    options: AgentRunnerOptions,
  ) {
    this.clock = options.clock;
    this.timers = options.timers ?? nodeTimers;
    this.idle = new BackoffIdleStrategy(options.idle);
    this.maxBatchNs = options.maxBatchNs ?? DEFAULT_MAX_BATCH_NS;
    this.maxCyclesPerTurn = options.maxCyclesPerTurn ?? DEFAULT_MAX_CYCLES_PER_TURN;
    if (!(Number.isInteger(this.maxBatchNs) && this.maxBatchNs >= 0)) {
      throw new SkeinError(ErrorCode.CONFIG_INVALID, `maxBatchNs=${String(options.maxBatchNs)} is invalid; expected an integer >= 0`);
    }
    if (!(Number.isInteger(this.maxCyclesPerTurn) && this.maxCyclesPerTurn >= 1)) {
      throw new SkeinError(
        ErrorCode.CONFIG_INVALID,
        `maxCyclesPerTurn=${String(options.maxCyclesPerTurn)} is invalid; expected an integer >= 1`,
      );
    }
    this.wakeInMicrotask = options.idle?.wakeInMicrotask ?? true;
    if (typeof this.wakeInMicrotask !== 'boolean') {
      throw new SkeinError(ErrorCode.CONFIG_INVALID, `idle.wakeInMicrotask=${String(options.idle?.wakeInMicrotask)} is invalid; expected true or false`);
    }
    this.sleepFlag = options.sleepFlag ?? null;
    this.onFailure = options.onFailure;
    this.invoker = new AgentInvoker(agent, options.clock, options.errorHandler);
    this.runTurn = this.turnFromTimer.bind(this);
    this.runWokenTurn = this.turnFromMicrotask.bind(this);
  }

  /** True between start() and close() (false after an AssertionFailure stopped it). */
  get isRunning(): boolean {
    return this.state === 'running';
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** True when an AssertionFailure thrown by the agent stopped this runner. */
  get isFailed(): boolean {
    return this.state === 'failed';
  }

  /** Duty cycles run so far. */
  get dutyCycles(): number {
    return this.cycles;
  }

  /** Calls the agent's onStart and schedules the first cycle; no-op when already started. */
  start(): void {
    if (this.state === 'closed' || this.state === 'failed') {
      throw new SkeinError(ErrorCode.CLOSED, `cannot start agent runner for '${this.agent.roleName}': it is ${this.state}`, {
        state: this.state,
      });
    }
    if (this.state === 'running') return;
    this.state = 'running';
    try {
      this.invoker.start();
    } catch (e) {
      this.state = 'failed';
      throw e;
    }
    if (this.invoker.isClosed) {
      this.state = 'closed';
      return;
    }
    this.immediate = this.timers.scheduleImmediate(this.runTurn);
  }

  /**
   * Asks for a cycle soon and starts the back-off over. A sleeping runner runs in a microtask,
   * once the caller's code has returned (never inside this call), or with `idle.wakeInMicrotask`
   * false on the next setImmediate; a running or spinning one runs its next cycle as planned.
   * Cheap and allocation-free unless it cancels a sleep; safe to call per message.
   */
  wake(): void {
    // Already asked for a cycle since the current or last one began.
    if (this.woken || this.state !== 'running') return;
    this.woken = true;
    this.idle.reset();
    if (this.timeout === null) return;
    this.timers.cancelTimeout(this.timeout);
    this.timeout = null;
    if (!this.wakeInMicrotask) {
      this.immediate = this.timers.scheduleImmediate(this.runTurn);
      return;
    }
    this.microtask = true;
    this.timers.scheduleMicrotask(this.runWokenTurn);
  }

  /** Stops scheduling and calls the agent's onClose once; idempotent. */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.cancelTimers();
    this.invoker.close();
  }

  private turnFromTimer(): void {
    this.immediate = null;
    this.timeout = null;
    this.turn();
  }

  private turnFromMicrotask(): void {
    // Cancelled by close() (or already run): nothing to do.
    if (!this.microtask) return;
    this.microtask = false;
    this.turn();
  }

  private turn(): void {
    if (this.sleeping) this.setSleeping(false);
    if (this.state !== 'running') return;
    const startNs = this.clock.nanoTime();
    let turnCycles = 0;
    let work = 0;
    try {
      do {
        // A wake-up during this cycle that the cycle itself did not act on asks for another one.
        this.woken = false;
        work = this.invoker.invoke();
        turnCycles++;
        this.cycles++;
      } while (
        work > 0 &&
        this.state === 'running' &&
        turnCycles < this.maxCyclesPerTurn &&
        this.clock.nanoTime() - startNs < this.maxBatchNs
      );
    } catch (e) {
      // Only an AssertionFailure, or an error thrown by the error handler itself, gets here.
      this.stopAfterBug();
      this.onFailure?.(e);
      throw e;
    }
    // The loop runs on only while cycles find work: more than one cycle means this turn did work.
    if (this.state === 'running') this.scheduleNext(work, turnCycles > 1, startNs);
  }

  private scheduleNext(work: number, busyTurn: boolean, startNs: number): void {
    const nowNs = this.clock.nanoTime();
    if (work > 0 || this.woken) {
      this.idle.onWork(startNs, nowNs);
      this.immediate = this.timers.scheduleImmediate(this.runTurn);
      return;
    }
    if (busyTurn) this.idle.onWork(startNs, nowNs);
    const delayMs = this.idle.nextDelayMs(nowNs);
    if (delayMs === 0) {
      this.immediate = this.timers.scheduleImmediate(this.runTurn);
    } else {
      this.setSleeping(true);
      this.timeout = this.timers.scheduleTimeout(this.runTurn, delayMs);
    }
  }

  private setSleeping(sleeping: boolean): void {
    this.sleeping = sleeping;
    if (this.sleepFlag !== null) Atomics.store(this.sleepFlag, 0, sleeping ? 1 : 0);
  }

  private stopAfterBug(): void {
    // Not 'closed': close() may still be called and then runs the agent's onClose.
    this.state = 'failed';
    this.cancelTimers();
  }

  private cancelTimers(): void {
    if (this.immediate !== null) this.timers.cancelImmediate(this.immediate);
    if (this.timeout !== null) this.timers.cancelTimeout(this.timeout);
    this.immediate = null;
    this.timeout = null;
    this.microtask = false;
  }
}
