import { ErrorCode, SkeinAbortError, SkeinError, handlerFailed, type ErrorSubject } from '../util/errors.js';

/**
 * What happened to a publication's or a subscription's connection:
 * - `connected`: a publication has a subscriber (or receiver); a subscription has its first image.
 * - `disconnected`: the last subscriber or image went.
 * - `image-available`, `image-unavailable` (subscriptions): one publisher's image joined or left;
 *   `sessionId` and `sourceIdentity` say which.
 * - `closed`: the publication or subscription was closed (by its owner, its client, or a failed
 *   driver); the last event.
 */
export type ConnectionEventType = 'connected' | 'disconnected' | 'image-available' | 'image-unavailable' | 'closed';

export interface ConnectionEvent {
  readonly type: ConnectionEventType;
  readonly channel: string;
  readonly streamId: number;
  /** The publication's session, or the image's for image events; undefined otherwise. */
  readonly sessionId: number | undefined;
  /** Where an image's data comes from (image events only). */
  readonly sourceIdentity?: string;
  /** For subscriptions: images connected once this event happened. */
  readonly imageCount?: number;
}

export type ConnectionListener = (event: ConnectionEvent) => void;

/** Bounds of a wait: `timeoutMs` (a number > 0; none by default) and an AbortSignal. */
export interface ConnectedOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** The client side a ConnectionStatus needs: time, a duty cycle while it waits, error reporting. */
export interface ConnectionStatusHost {
  nanoTime(): number;
  /** Has the client call `poll` on every duty cycle until `unwatch`. */
  watch(status: ConnectionStatus): void;
  unwatch(status: ConnectionStatus): void;
  /** An application listener threw: report and count it. */
  reportHandlerError(error: SkeinError): void;
}

interface Waiter {
  readonly deadlineNs: number;
  readonly timeoutMs: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** How a set of waits describes its failures. */
export interface WaitErrors {
  /** The wait passed its `timeoutMs` (ERR_SKEIN_TIMEOUT, naming the timeout). */
  timedOut(timeoutMs: number): SkeinError;
  /** The wait's signal aborted (an AbortError whose cause is `signal.reason`). */
  aborted(signal: AbortSignal): SkeinAbortError;
}

const MS = 1_000_000;

/** Checks a wait's options; throws ERR_SKEIN_ARG_INVALID naming the bad value. */
export function checkConnectedOptions(options: ConnectedOptions, subject: ErrorSubject): void {
  if (typeof options !== 'object' || options === null) {
    throw new SkeinError(ErrorCode.ARG_INVALID, `options must be an object such as { timeoutMs: 5000 }, got ${String(options)}`, subject);
  }
  const { timeoutMs, signal } = options;
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs > 0 && (Number.isFinite(timeoutMs) || timeoutMs === Infinity))) {
    throw new SkeinError(ErrorCode.ARG_INVALID, `timeoutMs=${String(timeoutMs)} is invalid; expected a number of ms > 0 (or Infinity)`, subject);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new SkeinError(ErrorCode.ARG_INVALID, `signal must be an AbortSignal, got ${typeof signal}`, subject);
  }
}

/**
 * Promises waiting for one condition, each bounded by its own timeout (checked by `poll` on the
 * owner's duty cycle, with the owner's clock) and AbortSignal; the owner settles them all when the
 * condition holds or can no longer hold. `onChange` is told when the set becomes empty or not.
 */
export class Waits {
  private waiters: Waiter[] = [];

  constructor(
    private readonly nanoTime: () => number,
    private readonly errors: WaitErrors,
    private readonly onChange: () => void = () => {},
  ) {}

  get count(): number {
    return this.waiters.length;
  }

  /** A new wait; `options` must have been checked (see {@link checkConnectedOptions}). */
  add(options: ConnectedOptions): Promise<void> {
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.reject(this.errors.aborted(signal));
    const timeoutMs = options.timeoutMs ?? Infinity;
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { deadlineNs: this.nanoTime() + timeoutMs * MS, timeoutMs, resolve, reject, signal, onAbort: undefined };
      if (signal !== undefined) {
        waiter.onAbort = () => this.settle(waiter, this.errors.aborted(signal));
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiters = [...this.waiters, waiter];
      if (this.waiters.length === 1) this.onChange();
    });
  }

  /** Rejects the waits whose timeout passed at `nowNs`; returns how many. */
  poll(nowNs: number): number {
    let expired = 0;
    for (const waiter of this.waiters) {
      if (nowNs < waiter.deadlineNs) continue;
      expired++;
      this.settle(waiter, this.errors.timedOut(waiter.timeoutMs));
    }
    return expired;
  }

  /** Resolves (error null) or rejects every wait. */
  settleAll(error: Error | null): void {
    for (const waiter of this.waiters) this.settle(waiter, error);
  }

  private settle(waiter: Waiter, error: Error | null): void {
    if (!this.waiters.includes(waiter)) return;
    this.waiters = this.waiters.filter((w) => w !== waiter);
    if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort);
    if (error === null) waiter.resolve();
    else waiter.reject(error);
    if (this.waiters.length === 0) this.onChange();
  }
}

/**
 * The connection state of one publication or subscription, followed three ways: `wait` (a promise
 * bounded by a timeout and an AbortSignal), listeners, and async iterators of events. The owner
 * reports the state with `update` (and image events with `emit`); `close` ends everything.
 * Waits and iterators settle within one duty cycle of the change that settles them.
 */
export class ConnectionStatus {
  private listeners: ConnectionListener[] = [];
  private readonly iterators = new Set<ConnectionEventIterator>();
  private readonly waits: Waits;
  private connected = false;
  private closed = false;
  private closeCause: Error | undefined = undefined;
  private watching = false;

  /**
   * `probe` reads the state where it is not reported (a publication's log says whether it is
   * connected): it is read on every duty cycle while anything waits or listens.
   */
  constructor(
    private readonly host: ConnectionStatusHost,
    private readonly subject: { readonly channel: string; readonly streamId: number; readonly sessionId?: number },
    private readonly what: 'publication' | 'subscription',
    private readonly probe?: () => boolean,
  ) {
    if (probe !== undefined) this.connected = probe();
    this.waits = new Waits(
      () => host.nanoTime(),
      {
        timedOut: (timeoutMs) => new SkeinError(ErrorCode.TIMEOUT, `${what} not connected within ${timeoutMs} ms`, { ...subject, timeoutMs, state: 'NOT_CONNECTED' }),
        aborted: (signal) => this.abortError(signal),
      },
      () => this.rewatch(),
    );
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Resolves once connected; rejects on timeout (ERR_SKEIN_TIMEOUT), abort (AbortError) or close (ERR_SKEIN_CLOSED). */
  wait(options: ConnectedOptions, isConnectedNow: boolean): Promise<void> {
    try {
      checkConnectedOptions(options, this.subject);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.closed) return Promise.reject(this.closedError(`${this.what} is closed; it will never connect`));
    if (isConnectedNow) {
      this.update(true);
      return Promise.resolve();
    }
    return this.waits.add(options);
  }

  /** Calls `listener` with every later event; returns the function that stops it. */
  listen(listener: ConnectionListener): () => void {
    if (typeof listener !== 'function') {
      throw new SkeinError(ErrorCode.ARG_INVALID, `listener must be a function, got ${typeof listener}`, this.subject);
    }
    this.listeners = [...this.listeners, listener];
    this.rewatch();
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
      this.rewatch();
    };
  }

  /**
   * Every later event, in order, as an async iterator. It ends after the `closed` event (or at
   * once when already closed) and throws an AbortError when `signal` aborts.
   */
  events(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<ConnectionEvent> {
    checkConnectedOptions(options, this.subject);
    const iterator = new ConnectionEventIterator(this, options.signal);
    if (this.closed) iterator.end();
    else this.iterators.add(iterator);
    this.rewatch();
    return iterator;
  }

  /** Reports the current state; emits `connected` or `disconnected` when it changed. */
  update(isConnected: boolean): void {
    if (this.closed || isConnected === this.connected) return;
    this.connected = isConnected;
    if (isConnected) this.waits.settleAll(null);
    this.emit(isConnected ? 'connected' : 'disconnected', this.subject.sessionId);
  }

  /** Hands an event to listeners and iterators. */
  emit(type: ConnectionEventType, sessionId: number | undefined, extra: { sourceIdentity?: string; imageCount?: number } = {}): void {
    if (this.listeners.length === 0 && this.iterators.size === 0) return;
    const event: ConnectionEvent = { type, channel: this.subject.channel, streamId: this.subject.streamId, sessionId, ...extra };
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (thrown) {
        this.host.reportHandlerError(handlerFailed(`${this.what} connection listener (${type})`, thrown, this.subject));
      }
    }
    for (const iterator of this.iterators) iterator.push(event);
  }

  /** Called by the client's duty cycle while watched: reads the probe, expires waits. Returns work done. */
  poll(nowNs: number): number {
    if (this.probe !== undefined) this.update(this.probe());
    return this.waits.poll(nowNs);
  }

  /** Ends every wait, listener and iterator: `closed` is the last event. Idempotent. */
  close(cause?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closeCause = cause;
    this.waits.settleAll(this.closedError(`${this.what} closed before it connected`));
    this.emit('closed', this.subject.sessionId);
    for (const iterator of this.iterators) iterator.end();
    this.iterators.clear();
    this.listeners = [];
    this.rewatch();
  }

  /** @internal An iterator stopped (return, throw or abort). */
  removeIterator(iterator: ConnectionEventIterator): void {
    this.iterators.delete(iterator);
    this.rewatch();
  }

  /** @internal */
  abortError(signal: AbortSignal): SkeinAbortError {
    return new SkeinAbortError(`wait for the ${this.what}'s connection aborted`, signal, this.subject);
  }

  private closedError(message: string): SkeinError {
    const cause = this.closeCause;
    if (cause instanceof SkeinError && cause.code === ErrorCode.DRIVER_FAILED) {
      return new SkeinError(ErrorCode.DRIVER_FAILED, `${message}: ${cause.detail}`, { ...this.subject, state: 'FAILED', cause });
    }
    return new SkeinError(ErrorCode.CLOSED, message, { ...this.subject, state: 'CLOSED', ...(cause === undefined ? {} : { cause }) });
  }

  private rewatch(): void {
    const needed = !this.closed && (this.waits.count > 0 || this.listeners.length > 0 || this.iterators.size > 0);
    if (needed === this.watching) return;
    this.watching = needed;
    // Events are changes from now on: a state that changed while nobody watched is not one.
    if (needed && this.probe !== undefined) this.connected = this.probe();
    if (needed) this.host.watch(this);
    else this.host.unwatch(this);
  }
}

/** An async iterator over connection events (see {@link ConnectionStatus.events}). */
class ConnectionEventIterator implements AsyncIterableIterator<ConnectionEvent> {
  private readonly queue: ConnectionEvent[] = [];
  private next_: ((result: IteratorResult<ConnectionEvent>) => void) | null = null;
  private fail_: ((error: Error) => void) | null = null;
  private done = false;
  private failure: Error | null = null;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    private readonly status: ConnectionStatus,
    private readonly signal: AbortSignal | undefined,
  ) {
    if (signal !== undefined) {
      this.onAbort = () => this.abort();
      if (signal.aborted) this.abort();
      else signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ConnectionEvent> {
    return this;
  }

  next(): Promise<IteratorResult<ConnectionEvent>> {
    const event = this.queue.shift();
    if (event !== undefined) return Promise.resolve({ value: event, done: false });
    if (this.failure !== null) {
      const failure = this.failure;
      this.failure = null;
      this.done = true;
      return Promise.reject(failure);
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.next_ = resolve;
      this.fail_ = reject;
    });
  }

  return(): Promise<IteratorResult<ConnectionEvent>> {
    this.finish();
    this.queue.length = 0;
    return Promise.resolve({ value: undefined, done: true });
  }

  /** @internal */
  push(event: ConnectionEvent): void {
    if (this.done) return;
    const resolve = this.next_;
    if (resolve !== null) {
      this.next_ = null;
      this.fail_ = null;
      resolve({ value: event, done: false });
    } else {
      this.queue.push(event);
    }
  }

  /** @internal No more events: the iterator ends once the queued ones are read. */
  end(): void {
    if (this.done) return;
    this.finish();
  }

  private abort(): void {
    if (this.done) return;
    const error = this.status.abortError(this.signal!);
    const reject = this.fail_;
    this.next_ = null;
    this.fail_ = null;
    this.queue.length = 0;
    this.finish();
    if (reject !== null) reject(error);
    else this.failure = error;
  }

  private finish(): void {
    this.done = true;
    if (this.onAbort !== undefined) this.signal?.removeEventListener('abort', this.onAbort);
    this.status.removeIterator(this);
    const resolve = this.next_;
    if (resolve !== null && this.queue.length === 0) {
      this.next_ = null;
      this.fail_ = null;
      resolve({ value: undefined, done: true });
    }
  }
}
