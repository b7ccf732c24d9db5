/**
 * A consumer of one service (docs/rpc.md, "Consumers"): a registry subscription feeding a
 * {@link ConnectionHolder}, links to the providers, a balancer, and calls with deadlines,
 * cancellation, retries and a retry budget. Its typed `stub` has one function per method of the
 * service's declaration.
 *
 * A call picks a READY provider (waiting for one up to its deadline when none is), sends CALL
 * with the time it has left, and ends with exactly one outcome. Calls refused before their
 * handler ran (the provider was shutting down or at its limit) go to another provider at once,
 * whatever the method; other failures are retried only for idempotent methods, for the
 * statuses their policy names, within the call's deadline, on a provider not yet tried when
 * there is one, while the retry budget allows.
 */
import type { SkeinClient } from '../client/skein-client.js';
import type { Counter } from '../client/counter.js';
import { CounterTypeId } from '../agent/counter-types.js';
import type { Agent } from '../agent/agent.js';
import { SeededPrng, randomSeed } from '../env/prng.js';
import { resolveHost } from '../env/host-resolver.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import type { Implements } from '../util/implements.js';
import { ConnectionHolder, type HolderState, type ProviderView } from './connection-holder.js';
import type { HolderOptions } from './holder-options.js';
import { PROVIDER_STATES, type ProviderConnection, type ProviderState, type ProviderTransition } from './provider-connection.js';
import type { Registry, RegistrySubscription } from './registry.js';
import { RpcLinks, type HostResolver, type LinkCallListener, type RpcLink, type RpcLinkSettings } from './rpc-link.js';
import { EMPTY_METADATA, FrameFlag, FrameType, type FrameReader, type Metadata } from './rpc-frames.js';
import { RpcError, RpcStatus, statusName, type RpcStatusName } from './rpc-status.js';
import { RetryBudget, type RetryBudgetOptions } from './retry.js';
import { RPC_DEFAULTS } from './rpc-defaults.js';
import { createBalancer, DEFAULT_BALANCER, type Balancer, type BalancerName } from './balancer.js';
import type { AnyMethod, CallOptions, MethodMap, ServiceDescriptor, ServiceStub } from './service.js';

const MS = 1_000_000;

export interface RpcConsumerOptions {
  readonly registry: Registry;
  /** @default 'p2c-peak-ewma' */
  readonly balancer?: BalancerName;
  readonly holder?: HolderOptions;
  readonly link?: Partial<RpcLinkSettings>;
  readonly retryBudget?: RetryBudgetOptions;
  /** With no READY provider, wait for one up to the call's deadline (true) or fail at once with UNAVAILABLE. @default true */
  readonly waitForReady?: boolean;
  /** Seeds backoff jitter and balancing; random by default. */
  readonly seed?: number;
  readonly resolver?: HostResolver;
  /** Every provider state change. */
  readonly onProviderTransition?: (transition: ProviderTransition) => void;
  /** Sent in HELLO. */
  readonly metadata?: Metadata;
  readonly onError?: (error: unknown) => void;
}

type Phase = 'NEW' | 'WAITING' | 'BACKOFF' | 'SENT' | 'DONE';

/** The fields of a CALL frame, filled in for each send (one object per consumer, not per call). */
interface CallFields {
  readonly type: typeof FrameType.CALL;
  callId: number;
  arg: number;
  flags: number;
  name: string;
  metadata: Metadata;
}

interface StreamState {
  readonly values: unknown[];
  ended: boolean;
  error: Error | null;
  wake: (() => void) | null;
  consumed: number;
}

/** Resumes a stream's reader waiting for the next message or the end. */
function wakeReader(stream: StreamState): void {
  const wake = stream.wake;
  stream.wake = null;
  wake?.();
}

class Call implements LinkCallListener {
  phase: Phase = 'NEW';
  attempt = 1;
  /** Providers this call has been sent to (or found unusable); made at the second pick. */
  tried: Set<string> | null = null;
  /** The first provider tried, kept without a set for the common single-attempt call. */
  firstTried: string | null = null;
  transparentRetries = 0;
  provider: ProviderConnection | null = null;
  link: RpcLink | null = null;
  callId = 0;
  sentNs = 0;
  resumeNs = 0;
  committed = false;
  abortListener: (() => void) | null = null;
  /** Where this call sits in the consumer's list of calls in flight; -1 when it is not there. */
  liveIndex = -1;

  constructor(
    readonly consumer: RpcConsumer,
    readonly method: string,
    readonly descriptor: AnyMethod,
    readonly payload: Uint8Array,
    readonly startNs: number,
    readonly deadlineNs: number,
    readonly metadata: Metadata,
    readonly key: string | undefined,
    readonly signal: AbortSignal | undefined,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: Error) => void,
    readonly stream: StreamState | null,
  ) {}

  onFrame(reader: FrameReader): void {
    this.consumer.onFrame(this, reader);
  }

  onLinkDown(reason: string): void {
    this.consumer.onLinkDown(this, reason);
  }
}

export class RpcConsumer<M extends MethodMap = MethodMap> {
  readonly roleName: string;
  readonly service: ServiceDescriptor<M>;
  readonly stub: ServiceStub<M>;
  private readonly client: SkeinClient;
  private readonly holder: ConnectionHolder;
  private readonly links: RpcLinks;
  private readonly balancer: Balancer;
  private readonly budget: RetryBudget;
  private readonly waitForReady: boolean;
  private readonly prng: SeededPrng;
  /**
   * Calls in flight, densely packed (each knows its index), not a Set: a Set that gains and loses
   * an entry per call made the garbage collector promote most of what calls allocate (see IntMap).
   */
  private readonly live: (Call | undefined)[] = [];
  private liveCount = 0;
  private readonly subscription: RegistrySubscription;
  private readonly onError: (error: unknown) => void;
  private nextCallId = 1;
  private readonly callFields: CallFields = { type: FrameType.CALL, callId: 0, arg: 0, flags: 0, name: '', metadata: EMPTY_METADATA };
  private closed = false;
  private nextScanNs = 0;
  /** Calls WAITING or in BACKOFF: while there are any, calls are looked at every cycle. */
  private parked = 0;
  /** Counters for `skein rpc providers` and tests. */
  readonly stats = { calls: 0, ok: 0, failed: 0, retries: 0, transparentRetries: 0, waitedForReady: 0 };
  /** Driver counters (`skein stat`): providers per state, calls ok and failed, retries. */
  private readonly counters = new Map<string, Counter>();
  /** The per-call counters, kept apart from the map so a call costs no lookup by name. */
  private okCounter: Counter | null = null;
  private failedCounter: Counter | null = null;
  private retriesCounter: Counter | null = null;
  /** One driver counter per provider, its value the provider's state (index in PROVIDER_STATES); null while being added. */
  private readonly providerCounters = new Map<string, Counter | null>();
  private readonly providerStates = new Map<string, ProviderState>();
  private providerCountersFailed = false;

  private constructor(client: SkeinClient, service: ServiceDescriptor<M>, options: RpcConsumerOptions) {
    this.client = client;
    this.service = service;
    this.roleName = `rpc-consumer ${service.name}`;
    this.onError = options.onError ?? ((error) => client.reportError(error));
    this.prng = new SeededPrng(options.seed ?? randomSeed());
    this.links = new RpcLinks(client, service.name, {
      ...(options.link === undefined ? {} : { settings: options.link }),
      resolver: options.resolver ?? resolveHost,
      consumerMetadata: options.metadata ?? EMPTY_METADATA,
      onError: this.onError,
    });
    this.balancer = createBalancer(options.balancer ?? DEFAULT_BALANCER, this.prng.fork());
    this.budget = new RetryBudget(options.retryBudget);
    this.waitForReady = options.waitForReady ?? true;
    const listener = options.onProviderTransition;
    this.holder = new ConnectionHolder(
      {
        service: service.name, links: this.links, prng: this.prng.fork(), nanoTime: () => client.nanoTime(), onError: this.onError,
        onTransition: (t) => {
          if (t.to === 'CLOSED' || t.from === 'READY') this.balancer.onTargetsChanged(new Set(this.holder.pickable().map((p) => p.id)));
          this.counters.get(t.from)?.set(this.holder.countIn(t.from));
          this.counters.get(t.to)?.set(t.to === 'CLOSED' ? 0 : this.holder.countIn(t.to));
          this.trackProvider(t);
          listener?.(t);
        },
      },
      options.holder,
    );
    this.stub = this.makeStub();
    this.addCounters();
    client.addAgent(this);
    this.subscription = options.registry.subscribe(service.name, {
      onSnapshot: (snapshot) => {
        if (!this.closed) this.holder.applySnapshot(snapshot);
      },
      onRegistryState: (state, reason) => this.holder.setRegistryState(state, reason),
    });
  }

  static create<M extends MethodMap>(client: SkeinClient, service: ServiceDescriptor<M>, options: RpcConsumerOptions): RpcConsumer<M> {
    return new RpcConsumer(client, service, options);
  }

  get state(): HolderState {
    return this.holder.state;
  }

  /** Calls started and not yet ended (waiting for a provider, backing off or sent). */
  get inFlight(): number {
    return this.liveCount;
  }

  providers(): ProviderView[] {
    return this.holder.providerViews();
  }

  describe(): string {
    return this.holder.describe();
  }

  get registryState(): string {
    return this.holder.registryState;
  }

  get retryTokens(): number {
    return this.budget.tokens;
  }

  get lateFrames(): number {
    return this.links.lateFrames;
  }

  /** Calls one method by name; the stub's functions come here. */
  call(method: string, request: unknown, options: CallOptions = {}): Promise<unknown> {
    return new Promise((resolve, reject) => this.start(method, request, options, resolve, reject, null));
  }

  /** A server stream as an async iterable; the call starts on the first `next()`. */
  stream(method: string, request: unknown, options: CallOptions = {}): AsyncIterable<unknown> {
    return {
      [Symbol.asyncIterator]: () => {
        const state: StreamState = { values: [], ended: false, error: null, wake: null, consumed: 0 };
        let call: Call | null = null;
        let started = false;
        return {
          next: async (): Promise<IteratorResult<unknown>> => {
            if (!started) {
              started = true;
              call = this.start(method, request, options, () => {}, (e) => (state.error = e), state);
            }
            for (;;) {
              if (state.values.length > 0) {
                const value = state.values.shift();
                state.consumed++;
                if (call !== null) this.grantCredit(call, state);
                return { value, done: false };
              }
              if (state.error !== null) throw state.error;
              if (state.ended) return { value: undefined, done: true };
              await new Promise<void>((r) => (state.wake = r));
            }
          },
          return: async (): Promise<IteratorResult<unknown>> => {
            if (call !== null && call.phase !== 'DONE') this.cancel(call, 'the consumer stopped reading the stream');
            state.ended = true;
            return { value: undefined, done: true };
          },
        };
      },
    };
  }

  /** Ends every call with CANCELLED, closes the links and the registry subscription; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.subscription.close();
    } catch (error) {
      // Whatever the registry does, the calls, links and counters below are released.
      this.onError(error);
    }
    for (const call of this.live.slice(0, this.liveCount)) this.fail(call!, 'CANCELLED', 'the consumer was closed');
    this.holder.close();
    this.links.closeAll();
    for (const counter of this.counters.values()) counter.close();
    this.counters.clear();
    this.okCounter = this.failedCounter = this.retriesCounter = null;
    for (const counter of this.providerCounters.values()) counter?.close();
    this.providerCounters.clear();
    this.client.removeAgent(this);
  }

  /** @internal */
  onClose(): void {
    this.close();
  }

  /** @internal */
  doWork(nowNs: number): number {
    if (this.closed) return 0;
    let work = this.links.doWork(nowNs) + this.holder.doWork(nowNs);
    // Deadlines are checked once a millisecond; waiting and backing-off calls every cycle.
    if (this.parked === 0 && nowNs < this.nextScanNs) return work;
    this.nextScanNs = nowNs + MS;
    // Backwards: a call that ends here leaves its index to the last call, which was seen already.
    for (let i = this.liveCount - 1; i >= 0; i--) {
      const call = this.live[i];
      if (call === undefined) continue;
      switch (call.phase) {
        case 'WAITING':
          if (nowNs >= call.deadlineNs) this.fail(call, 'DEADLINE_EXCEEDED', `no provider ready within the deadline: ${this.holder.describe()}`, 'UNAVAILABLE');
          else if (this.holder.pickable().length > 0) this.dispatch(call);
          else continue;
          work++;
          break;
        case 'BACKOFF':
          if (nowNs >= call.resumeNs) {
            this.dispatch(call);
            work++;
          }
          break;
        case 'SENT':
          if (nowNs >= call.deadlineNs) {
            this.sendCancel(call);
            this.endAttempt(call, false);
            this.fail(call, 'DEADLINE_EXCEEDED', `no answer within ${Math.round((call.deadlineNs - call.startNs) / MS)} ms`);
            work++;
          }
          break;
        default:
          break;
      }
    }
    return work;
  }

  // ---------------------------------------------------------------------------------------------

  private start(method: string, request: unknown, options: CallOptions, resolve: (v: unknown) => void, reject: (e: Error) => void, stream: StreamState | null): Call | null {
    const descriptor = (this.service.methods as Record<string, AnyMethod>)[method];
    if (this.closed) {
      reject(new RpcError('CANCELLED', 'the consumer is closed', { service: this.service.name, method }));
      return null;
    }
    if (descriptor === undefined) {
      reject(new RpcError('UNIMPLEMENTED', `method '${method}' is not declared by service ${this.service.name}`, { service: this.service.name, method }));
      return null;
    }
    const timeoutMs = options.timeoutMs ?? descriptor.defaultTimeoutMs;
    if (!(timeoutMs > 0 && timeoutMs <= 2 ** 31)) {
      reject(new SkeinError(ErrorCode.ARG_INVALID, `${this.service.name}.${method}: timeoutMs=${String(timeoutMs)} is invalid; expected a number in (0, 2^31]`));
      return null;
    }
    let payload: Uint8Array;
    try {
      payload = descriptor.requestCodec.encode(request);
    } catch (error) {
      reject(new RpcError('INVALID_ARGUMENT', `the request does not encode with codec ${descriptor.requestCodec.name}: ${(error as Error)?.message ?? String(error)}`, { service: this.service.name, method, cause: error }));
      return null;
    }
    const nowNs = this.client.nanoTime();
    const call = new Call(this, method, descriptor, payload, nowNs, nowNs + timeoutMs * MS, options.metadata ?? EMPTY_METADATA, options.key, options.signal, resolve, reject, stream);
    this.stats.calls++;
    if (options.signal?.aborted === true) {
      this.fail(call, 'CANCELLED', 'aborted before it was sent');
      return call;
    }
    if (options.signal !== undefined) {
      const signal = options.signal;
      call.abortListener = () => this.cancel(call, `aborted: ${String(signal.reason?.message ?? signal.reason)}`);
      signal.addEventListener('abort', call.abortListener, { once: true });
    }
    call.liveIndex = this.liveCount;
    this.live[this.liveCount++] = call;
    this.dispatch(call, nowNs);
    return call;
  }

  /** Sends the call's next attempt; `nowNs` when the caller has just read the clock. */
  private dispatch(call: Call, nowNs = this.client.nanoTime()): void {
    if (nowNs >= call.deadlineNs) {
      this.fail(call, 'DEADLINE_EXCEEDED', `the deadline passed before attempt ${call.attempt} could be sent`);
      return;
    }
    // Bounded: every pass either sends, or marks one provider tried.
    for (let pass = 0; pass < 64; pass++) {
      const pickable = this.holder.pickable();
      if (pickable.length === 0) {
        if (!this.waitForReady) {
          this.fail(call, 'UNAVAILABLE', `no provider is ready: ${this.holder.describe()}`);
          return;
        }
        if (call.phase !== 'WAITING') this.stats.waitedForReady++;
        this.setPhase(call, 'WAITING');
        return;
      }
      const provider = this.balancer.pick(pickable, call.key, this.excluded(call), nowNs) as ProviderConnection;
      const link = provider.currentLink as RpcLink | null;
      if (link === null || link.state !== 'READY' || link.draining) {
        const tried = this.markTried(call, provider.id);
        if (tried >= pickable.length && pass > pickable.length) break;
        continue;
      }
      const callId = this.nextCallId;
      this.nextCallId = (this.nextCallId % 0x7fffffff) + 1;
      call.callId = callId;
      this.markTried(call, provider.id);
      const remainingMs = Math.max(1, Math.ceil((call.deadlineNs - nowNs) / MS));
      const oneway = call.descriptor.kind === 'oneway';
      const flags = (oneway ? FrameFlag.ONEWAY : 0) | (call.descriptor.kind === 'serverStream' ? FrameFlag.STREAM : 0) | (Math.min(call.attempt, 255) << 8);
      let sent: boolean;
      try {
        link.addCall(callId, call);
        const fields = this.callFields;
        fields.callId = callId;
        fields.arg = remainingMs;
        fields.flags = flags;
        fields.name = call.method;
        fields.metadata = call.metadata;
        sent = link.send(fields, call.payload);
        fields.metadata = EMPTY_METADATA;
      } catch (error) {
        link.removeCall(callId);
        this.fail(call, 'INVALID_ARGUMENT', (error as Error)?.message ?? String(error), undefined, error);
        return;
      }
      if (!sent) {
        // Never left: try another provider, not counted as an attempt.
        link.removeCall(callId);
        continue;
      }
      // The attempt exists from here: the provider counts it until endAttempt.
      call.provider = provider;
      call.link = link;
      this.holder.callStarted(provider);
      this.setPhase(call, 'SENT');
      call.sentNs = nowNs;
      if (oneway) {
        link.removeCall(callId);
        this.endAttempt(call, true);
        this.succeed(call, undefined);
      }
      return;
    }
    this.fail(call, 'UNAVAILABLE', `no provider could take the call: ${this.holder.describe()}`);
  }

  /** @internal */
  onFrame(call: Call, reader: FrameReader): void {
    if (call.phase !== 'SENT') return;
    if (reader.type === FrameType.MESSAGE) {
      const stream = call.stream;
      if (stream === null) return;
      call.committed = true;
      let value: unknown;
      try {
        value = reader.decodePayload(call.descriptor.responseCodec);
      } catch (error) {
        this.sendCancel(call);
        this.endAttempt(call, false);
        this.fail(call, 'INTERNAL', `a stream message does not decode with codec ${call.descriptor.responseCodec.name}: ${(error as Error)?.message ?? String(error)}`);
        return;
      }
      stream.values.push(value);
      wakeReader(stream);
      return;
    }
    if (reader.type !== FrameType.END) return;
    const status = reader.arg;
    const message = reader.name;
    const trailers = reader.metadata();
    if (status === RpcStatus.OK) {
      let value: unknown;
      if (call.descriptor.kind === 'unary') {
        try {
          value = reader.decodePayload(call.descriptor.responseCodec);
        } catch (error) {
          this.endAttempt(call, false);
          this.fail(call, 'INTERNAL', `the response does not decode with codec ${call.descriptor.responseCodec.name}: ${(error as Error)?.message ?? String(error)}`);
          return;
        }
      }
      // Timed at the duty cycle whose poll read the answer.
      this.endAttempt(call, true, call.link?.heardNs);
      this.budget.onSuccess();
      this.succeed(call, value);
      return;
    }
    const name = statusName(status);
    const providerFault = name === 'UNAVAILABLE' || name === 'INTERNAL' || name === 'UNKNOWN' || name === 'DEADLINE_EXCEEDED' || name === 'DATA_LOSS';
    this.endAttempt(call, !providerFault);
    const notRun = (reader.flags & FrameFlag.NOT_RUN) !== 0;
    this.afterFailure(call, name === 'OK' ? 'UNKNOWN' : name, message, notRun, trailers);
  }

  /** @internal */
  onLinkDown(call: Call, reason: string): void {
    if (call.phase !== 'SENT') return;
    this.endAttempt(call, false);
    this.afterFailure(call, 'UNAVAILABLE', `the link to ${call.provider?.address ?? '?'} went down with the call in flight: ${reason}`, false, EMPTY_METADATA);
  }

  private afterFailure(call: Call, status: Exclude<RpcStatusName, 'OK'>, message: string, notRun: boolean, trailers: Metadata): void {
    const nowNs = this.client.nanoTime();
    if (notRun && !call.committed && call.transparentRetries < 1 && nowNs < call.deadlineNs) {
      call.transparentRetries++;
      this.stats.transparentRetries++;
      this.setPhase(call, 'WAITING');
      this.dispatch(call);
      return;
    }
    this.budget.onFailure();
    const policy = call.descriptor.retry;
    const retryable = call.descriptor.idempotent && !call.committed && policy.retryableStatuses.includes(status) && call.attempt < policy.maxAttempts;
    if (retryable && this.budget.allowRetry()) {
      const base = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * policy.backoffMultiplier ** (call.attempt - 1));
      const delayNs = Math.round(base * (0.8 + 0.4 * this.prng.nextDouble()) * MS);
      if (nowNs + delayNs < call.deadlineNs) {
        call.attempt++;
        this.stats.retries++;
        this.retriesCounter?.set(this.stats.retries);
        this.setPhase(call, 'BACKOFF');
        call.resumeNs = nowNs + delayNs;
        return;
      }
    }
    this.fail(call, status, message, undefined, undefined, trailers);
  }

  /** Ends the call's attempt on its provider; `endNs` when the end was already timed (else the clock is read). */
  private endAttempt(call: Call, ok: boolean, endNs?: number): void {
    const provider = call.provider;
    if (provider === null) return;
    call.provider = null;
    call.link?.removeCall(call.callId);
    this.holder.callEnded(provider, ok);
    const nowNs = endNs !== undefined && endNs >= call.sentNs ? endNs : this.client.nanoTime();
    this.balancer.onCallEnd(provider, nowNs - call.sentNs, ok, nowNs);
  }

  private cancel(call: Call, reason: string): void {
    if (call.phase === 'DONE') return;
    if (call.phase === 'SENT') {
      this.sendCancel(call);
      this.endAttempt(call, true);
    }
    this.fail(call, 'CANCELLED', reason);
  }

  private sendCancel(call: Call): void {
    const link = call.link;
    if (link === null) return;
    link.removeCall(call.callId);
    if (link.state === 'READY') link.send({ type: FrameType.CANCEL, callId: call.callId });
  }

  private grantCredit(call: Call, stream: StreamState): void {
    const half = RPC_DEFAULTS.streamWindow / 2;
    if (stream.consumed % half !== 0 || call.phase !== 'SENT' || call.link === null) return;
    call.link.send({ type: FrameType.CREDIT, callId: call.callId, arg: half });
  }

  private succeed(call: Call, value: unknown): void {
    if (call.phase === 'DONE') return;
    this.finishCall(call);
    this.stats.ok++;
    this.okCounter?.set(this.stats.ok);
    if (call.stream !== null) {
      call.stream.ended = true;
      wakeReader(call.stream);
    }
    call.resolve(value);
  }

  private fail(call: Call, status: Exclude<RpcStatusName, 'OK'>, message: string, as?: Exclude<RpcStatusName, 'OK'>, cause?: unknown, trailers?: Metadata): void {
    if (call.phase === 'DONE') return;
    const provider = call.provider ?? null;
    const nowNs = this.client.nanoTime();
    if (provider !== null) this.endAttempt(call, false);
    this.finishCall(call);
    this.stats.failed++;
    this.failedCounter?.set(this.stats.failed);
    const error = new RpcError(as ?? status, message, {
      service: this.service.name, method: call.method, ...(call.link === null ? {} : { provider: call.link.address }), callId: call.callId, attempt: call.attempt,
      deadlineMs: Math.round((call.deadlineNs - call.startNs) / MS), elapsedMs: (nowNs - call.startNs) / MS, state: this.holder.state,
      ...(cause === undefined ? {} : { cause }), ...(trailers === undefined || trailers === EMPTY_METADATA ? {} : { metadata: trailers }),
    });
    if (call.stream !== null) {
      call.stream.error = error;
      wakeReader(call.stream);
    }
    call.reject(error);
  }

  private finishCall(call: Call): void {
    this.setPhase(call, 'DONE');
    this.removeLive(call);
    if (call.abortListener !== null) call.signal?.removeEventListener('abort', call.abortListener);
    call.abortListener = null;
  }

  private removeLive(call: Call): void {
    const index = call.liveIndex;
    if (index < 0) return;
    const last = this.live[--this.liveCount]!;
    this.live[index] = last;
    last.liveIndex = index;
    this.live[this.liveCount] = undefined;
    call.liveIndex = -1;
  }

  private addCounters(): void {
    const names: string[] = [...PROVIDER_STATES.filter((s) => s !== 'CLOSED'), 'calls ok', 'calls failed', 'retries'];
    for (const name of names) {
      const label = name.startsWith('calls') || name === 'retries' ? `rpc consumer ${this.service.name}: ${name}` : `rpc consumer ${this.service.name}: providers ${name}`;
      this.client.addCounter(CounterTypeId.RPC, label).then(
        (counter) => {
          if (this.closed) {
            counter.close();
            return;
          }
          this.counters.set(name, counter);
          if (name === 'calls ok') this.okCounter = counter;
          else if (name === 'calls failed') this.failedCounter = counter;
          else if (name === 'retries') this.retriesCounter = counter;
          this.updateCounters();
        },
        (error: unknown) => this.onError(error),
      );
    }
  }

  /** Keeps the provider's own counter: added when it first moves, set on every move, closed with it. */
  private trackProvider(t: ProviderTransition): void {
    const label = `rpc consumer ${this.service.name}: provider ${t.id} state`;
    if (t.to === 'CLOSED') {
      this.providerStates.delete(t.id);
      const counter = this.providerCounters.get(t.id);
      this.providerCounters.delete(t.id);
      counter?.close();
      return;
    }
    this.providerStates.set(t.id, t.to);
    const counter = this.providerCounters.get(t.id);
    if (counter !== undefined) {
      counter?.set(PROVIDER_STATES.indexOf(t.to));
      return;
    }
    if (this.providerCountersFailed) return;
    this.providerCounters.set(t.id, null);
    this.client.addCounter(CounterTypeId.RPC, label).then(
      (added) => {
        const state = this.providerStates.get(t.id);
        if (this.closed || state === undefined || this.providerCounters.get(t.id) !== null) {
          added.close();
          return;
        }
        this.providerCounters.set(t.id, added);
        added.set(PROVIDER_STATES.indexOf(state));
      },
      (error: unknown) => {
        // Out of counters (a large fleet): the per-state counters still say everything in sum.
        this.providerCounters.delete(t.id);
        if (!this.providerCountersFailed) this.onError(error);
        this.providerCountersFailed = true;
      },
    );
  }

  private updateCounters(): void {
    for (const [name, counter] of this.counters) {
      if (name === 'calls ok') counter.set(this.stats.ok);
      else if (name === 'calls failed') counter.set(this.stats.failed);
      else if (name === 'retries') counter.set(this.stats.retries);
      else counter.set(this.holder.countIn(name as Exclude<(typeof PROVIDER_STATES)[number], 'CLOSED'>));
    }
  }

  /** The providers a call has tried, as the balancer's exclusion set (none for a first pick). */
  private excluded(call: Call): ReadonlySet<string> | undefined {
    if (call.tried !== null) return call.tried;
    if (call.firstTried === null) return undefined;
    call.tried = new Set([call.firstTried]);
    return call.tried;
  }

  /** Records a tried provider; returns how many the call has tried. */
  private markTried(call: Call, id: string): number {
    if (call.tried !== null) {
      call.tried.add(id);
      return call.tried.size;
    }
    if (call.firstTried === null || call.firstTried === id) {
      call.firstTried = id;
      return 1;
    }
    call.tried = new Set([call.firstTried, id]);
    return 2;
  }

  private setPhase(call: Call, phase: Phase): void {
    const wasParked = call.phase === 'WAITING' || call.phase === 'BACKOFF';
    const parked = phase === 'WAITING' || phase === 'BACKOFF';
    if (wasParked !== parked) this.parked += parked ? 1 : -1;
    call.phase = phase;
  }

  private makeStub(): ServiceStub<M> {
    const stub: Record<string, unknown> = {};
    for (const [name, descriptor] of Object.entries(this.service.methods as Record<string, AnyMethod>)) {
      stub[name] = descriptor.kind === 'serverStream' ? (request: unknown, options?: CallOptions) => this.stream(name, request, options) : (request: unknown, options?: CallOptions) => this.call(name, request, options);
    }
    return Object.freeze(stub) as ServiceStub<M>;
  }
}

/** @internal A consumer is an agent of its client. */
export type RpcConsumerRoles = Implements<Agent, RpcConsumer>;
