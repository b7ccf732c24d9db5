import { AssertionFailure } from '../util/assert.js';
import type { NanoClock } from '../env/clock.js';
import type { Agent } from './agent.js';

/** Receives errors an agent throws; must not throw itself. */
export type ErrorHandler = (error: unknown) => void;

/**
 * Steps an agent directly: `invoke()` runs one duty cycle with the clock's current time. Errors
 * thrown by the agent go to the error handler, except {@link AssertionFailure}, which is rethrown
 * so that a broken invariant stops everything.
 */
export class AgentInvoker {
  private started = false;
  private closed = false;

  constructor(
    readonly agent: Agent,
    private readonly clock: NanoClock,
    private readonly errorHandler: ErrorHandler,
  ) {}

  get isStarted(): boolean {
    return this.started;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** True between start() and close(). */
  get isRunning(): boolean {
    return this.started && !this.closed;
  }

  /**
   * Calls the agent's onStart once. If it throws, the error goes to the handler and the invoker is
   * closed (onClose runs), since the agent cannot run half-started.
   */
  start(): void {
    if (this.started || this.closed) return;
    try {
      this.agent.onStart?.();
      this.started = true;
    } catch (e) {
      if (e instanceof AssertionFailure) throw e;
      this.errorHandler(e);
      this.close();
    }
  }

  /** Runs one duty cycle; returns the work done, or 0 when not running or when doWork threw. */
  invoke(): number {
    if (!this.started || this.closed) return 0;
    try {
      return this.agent.doWork(this.clock.nanoTime());
    } catch (e) {
      if (e instanceof AssertionFailure) throw e;
      this.errorHandler(e);
      return 0;
    }
  }

  /** Calls the agent's onClose once; idempotent. Errors from onClose go to the handler. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.agent.onClose?.();
    } catch (e) {
      if (e instanceof AssertionFailure) throw e;
      this.errorHandler(e);
    }
  }
}
