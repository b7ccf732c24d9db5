/**
 * Raw event-loop timers behind an interface, so runners can be driven by fake timers in tests.
 * Together with scheduler.ts this is the only place that calls setImmediate/setTimeout.
 */

/** An opaque handle returned by {@link Timers}; only meaningful to the same Timers. */
export type TimerHandle = unknown;

/**
 * setImmediate, clearImmediate, setTimeout, clearTimeout and queueMicrotask. The method names
 * differ from the globals so that code outside env/ and sim/ visibly uses the injected timers (and
 * passes the layer check, which flags the global names).
 */
export interface Timers {
  scheduleImmediate(fn: () => void): TimerHandle;
  cancelImmediate(handle: TimerHandle): void;
  scheduleTimeout(fn: () => void, delayMs: number): TimerHandle;
  cancelTimeout(handle: TimerHandle): void;
  /** Runs `fn` once the current JavaScript stack has unwound, before any other event-loop work. */
  scheduleMicrotask(fn: () => void): void;
}

export interface NodeTimersOptions {
  /** When false, pending timers do not keep the process alive. @default true */
  ref?: boolean;
}

/** Node's timers; with `ref: false` every handle is `unref()`'d. */
export function createNodeTimers(options: NodeTimersOptions = {}): Timers {
  if (options.ref === false) {
    return {
      scheduleImmediate: (fn) => setImmediate(fn).unref(),
      cancelImmediate: (handle) => clearImmediate(handle as NodeJS.Immediate),
      scheduleTimeout: (fn, delayMs) => setTimeout(fn, delayMs).unref(),
      cancelTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
      scheduleMicrotask: (fn) => queueMicrotask(fn),
    };
  }
  return {
    scheduleImmediate: (fn) => setImmediate(fn),
    cancelImmediate: (handle) => clearImmediate(handle as NodeJS.Immediate),
    scheduleTimeout: (fn, delayMs) => setTimeout(fn, delayMs),
    cancelTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
    scheduleMicrotask: (fn) => queueMicrotask(fn),
  };
}

/** Node's timers, keeping the process alive while something is scheduled. */
export const nodeTimers: Timers = createNodeTimers();
