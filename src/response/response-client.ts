import { ErrorCode, SkeinAbortError, SkeinError, handlerFailed, plural, type SkeinErrorCode } from '../util/errors.js';
import { Waits, checkConnectedOptions, type ConnectedOptions } from '../client/connection-status.js';
import { isPowerOfTwo } from '../util/bits.js';
import { failAssertion } from '../util/assert.js';
import { SeededPrng, randomSeed, type Prng } from '../env/prng.js';
import type { Agent } from '../agent/agent.js';
import type { Implements } from '../util/implements.js';
import type { Header } from '../logbuffer/header.js';
import { FragmentAssembler } from '../logbuffer/fragment-assembler.js';
import type { SkeinClient } from '../client/skein-client.js';
import type { Publication } from '../client/publication.js';
import type { Subscription } from '../client/subscription.js';
import type { Image } from '../client/image.js';
import { BACK_PRESSURED, ADMIN_ACTION, NOT_CONNECTED, publicationCodeName } from '../client/publication-codes.js';
import { MessageKind, RESPONSE_DEFAULTS, markerWord, messageKind } from './response-protocol.js';
import { Backoff } from './backoff.js';

export type ResponseClientState = 'CONNECTING' | 'CONNECTED' | 'RECONNECTING' | 'CLOSED';

/**
 * How requests and answers are told apart. `skein`: correlation ids and message kinds in the
 * reserved value, heartbeats, CLOSE. `plain`: the payload alone, as Aeron's response samples send;
 * answers are matched to requests in the order the requests were sent.
 */
export type ResponseFraming = 'skein' | 'plain';

export interface ResponseClientStateChange {
  readonly from: ResponseClientState;
  readonly to: ResponseClientState;
  /** Why the state changed, naming the timeout or event. */
  readonly reason: string;
  readonly atNs: number;
}

/** The zero-allocation form of a request's outcome. One handler object can serve every request. */
export interface ResponseHandler {
  onResponse(correlationId: number, buffer: Uint8Array, offset: number, length: number): void;
  onError(correlationId: number, error: SkeinError): void;
}

export interface ResponseClientOptions {
  /** Where requests go. Default Aeron's sample channel `aeron:udp?endpoint=localhost:20125`. */
  readonly requestChannel?: string;
  readonly requestStreamId?: number;
  /** The server's response control address. Default `aeron:udp?control=localhost:20126`. */
  readonly responseControlChannel?: string;
  readonly responseStreamId?: number;
  /**
   * `skein` (default): Skein's framing, for Skein servers. `plain`: no framing, no heartbeats, no
   * CLOSE, answers matched in order, for servers such as Aeron's `response_server` sample. Plain
   * mode is CONNECTED while the request publication is connected and the response subscription
   * has an image; a request that times out or is aborted after it was sent drops the pair (see
   * docs/response-channels.md, "Plain framing").
   */
  readonly framing?: ResponseFraming;
  /** Requests in flight at most: a power of two in 1..65536. Default 1024. */
  readonly maxInFlight?: number;
  /** Deadline of a request without its own. Default 5000 ms. */
  readonly requestTimeoutMs?: number;
  /** Heartbeat period while connected or reconnecting. Default 250 ms. Not with framing `plain`. */
  readonly heartbeatIntervalMs?: number;
  /** Silence (no answer, no heartbeat echo) after which the server counts as lost. Default 1500 ms. Not with framing `plain`. */
  readonly peerTimeoutMs?: number;
  /** How long one publication/subscription pair may take to reach the server before it is rebuilt. Default 2000 ms. */
  readonly connectTimeoutMs?: number;
  /** First and largest wait between rebuilds (exponential, with jitter). Defaults 50 ms and 2000 ms. */
  readonly reconnectInitialDelayMs?: number;
  readonly reconnectMaxDelayMs?: number;
  /** Give up (state CLOSED) after this long without a connection. Default Infinity. */
  readonly reconnectDeadlineMs?: number;
  /** Seed of the backoff jitter. Random by default. */
  readonly seed?: number;
  /** Told of every state change. */
  readonly onStateChange?: (change: ResponseClientStateChange) => void;
}

interface Pair {
  subscription: Subscription | null;
  publication: Publication | null;
  /** Plain framing: the response image the pair connected on; answers are read from it alone. */
  image: Image | null;
  failure: Error | null;
  closed: boolean;
  readonly startedNs: number;
}

interface PendingPromise {
  readonly resolve: (response: Uint8Array) => void;
  readonly reject: (error: Error) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
const MS = 1_000_000;
const FREE = -1;

function option(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (!(v >= min && v <= max) || Number.isNaN(v)) {
    throw new SkeinError(ErrorCode.ARG_INVALID, `${name}=${String(value)} is out of range: must be in ${min}..${max}`);
  }
  return v;
}

/**
 * The client side of a request/response session over response channels: one request publication
 * (`response-correlation-id`) and one response subscription (`control-mode=response`), with
 * correlation ids, bounded in-flight requests, per-request deadlines and application heartbeats.
 *
 * States (each change is reported to `onStateChange`):
 * - CONNECTING: building the pair; CONNECTED once a heartbeat echo comes back over it.
 * - CONNECTED: requests flow. Silence longer than peerTimeoutMs means the server is lost.
 * - RECONNECTING: requests in flight fail with ERR_SKEIN_PEER_LOST; new ones fail with
 *   ERR_SKEIN_NOT_CONNECTED (both retryable). The pair first gets connectTimeoutMs to recover
 *   on its own (the driver rebinds to a restarted server's response stream); then it is rebuilt,
 *   again and again with exponential backoff and jitter, until reconnectDeadlineMs.
 * - CLOSED: by close(), or when the reconnect deadline passed. Final.
 *
 * With `framing: 'plain'` the same pair, deadlines, in-flight bound, backoff and errors serve a
 * server that knows no framing: requests go out as bare payloads, answers are matched first in,
 * first out, CONNECTED means the request publication is connected and a response image is there,
 * and the server counts as lost when that image goes or ends or the publication disconnects. The
 * pair is then always rebuilt, never reused, so no answer from before can meet a later request.
 *
 * Runs as an agent on the client's duty cycle: no timers, and the client's clock.
 */
export class ResponseClient {
  /** @internal */
  readonly roleName = 'response-client';
  readonly requestChannel: string;
  readonly requestStreamId: number;
  readonly responseControlChannel: string;
  readonly responseStreamId: number;
  readonly maxInFlight: number;
  readonly framing: ResponseFraming;

  private readonly client: SkeinClient;
  private readonly plain: boolean;
  private readonly requestTimeoutNs: number;
  private readonly heartbeatIntervalNs: number;
  private readonly peerTimeoutNs: number;
  private readonly connectTimeoutNs: number;
  private readonly reconnectDeadlineNs: number;
  private readonly backoff: Backoff;
  private readonly listeners: ((change: ResponseClientStateChange) => void)[] = [];
  private readonly assembler: FragmentAssembler;

  private stateValue: ResponseClientState = 'CONNECTING';
  private pair: Pair | null = null;
  private nextAttemptNs = 0;
  private attemptDeadlineNs = 0;
  /** When the current outage (or the first connect) began; the reconnect deadline counts from here. */
  private outageStartNs: number;
  private enteredStateNs: number;
  private lastHeardNs = -Infinity;
  private lastHeartbeatNs = -Infinity;
  private heartbeatId = 0;
  private nextDeadlineScanNs = 0;

  // In-flight requests, in preallocated slots. A correlation id is (generation << slotBits) | slot.
  private readonly slotBits: number;
  private readonly slotMask: number;
  private readonly slotId: Int32Array;
  private readonly slotGeneration: Uint16Array;
  private readonly slotDeadlineNs: Float64Array;
  private readonly slotTimeoutMs: Float64Array;
  private readonly slotHandler: (ResponseHandler | null)[];
  private readonly slotPromise: (PendingPromise | null)[];
  /** A request not yet offered (back pressure): retried on the duty cycle until its deadline. */
  private readonly slotUnsent: (Uint8Array | null)[];
  private readonly freeSlots: Int32Array;
  private freeCount: number;
  private unsentCount = 0;
  private closeError: SkeinError | null = null;
  private readonly connectWaits: Waits;
  /** The server said CLOSE (it is shutting down or timed this session out). */
  private peerClosed = false;

  // Plain framing: correlation ids of the requests sent on the current pair, in the order sent.
  // An entry whose slot was released (the request timed out or was aborted) stays until its
  // answer comes, so later answers still meet their own requests until the pair is dropped.
  private readonly plainQueue: Int32Array;
  private plainHead = 0;
  private plainCount = 0;
  /** 1 while a slot's request is in plainQueue. */
  private readonly slotSent: Uint8Array;
  /** Why the current pair must be dropped (a sent request was given up), or null. */
  private spoiledReason: string | null = null;
  private strayAnswerCount = 0;

  constructor(client: SkeinClient, options: ResponseClientOptions = {}) {
    this.client = client;
    this.requestChannel = options.requestChannel ?? RESPONSE_DEFAULTS.requestChannel;
    this.requestStreamId = options.requestStreamId ?? RESPONSE_DEFAULTS.requestStreamId;
    this.responseControlChannel = options.responseControlChannel ?? RESPONSE_DEFAULTS.responseControlChannel;
    this.responseStreamId = options.responseStreamId ?? RESPONSE_DEFAULTS.responseStreamId;
    const framing = options.framing ?? 'skein';
    if (framing !== 'skein' && framing !== 'plain') throw new SkeinError(ErrorCode.ARG_INVALID, `framing=${String(framing)} must be 'skein' or 'plain'`);
    this.framing = framing;
    this.plain = framing === 'plain';
    if (this.plain) {
      for (const name of ['heartbeatIntervalMs', 'peerTimeoutMs'] as const) {
        if (options[name] !== undefined) throw new SkeinError(ErrorCode.ARG_INVALID, `${name} does not apply with framing 'plain': a plain server answers no heartbeats`);
      }
    }
    const maxInFlight = option('maxInFlight', options.maxInFlight, 1024, 1, 65536);
    if (!isPowerOfTwo(maxInFlight)) throw new SkeinError(ErrorCode.ARG_INVALID, `maxInFlight=${maxInFlight} must be a power of two in 1..65536`);
    this.maxInFlight = maxInFlight;
    this.requestTimeoutNs = option('requestTimeoutMs', options.requestTimeoutMs, 5000, 1, 3_600_000) * MS;
    this.heartbeatIntervalNs = option('heartbeatIntervalMs', options.heartbeatIntervalMs, 250, 1, 60_000) * MS;
    this.peerTimeoutNs = option('peerTimeoutMs', options.peerTimeoutMs, 1500, 2, 600_000) * MS;
    if (this.peerTimeoutNs <= this.heartbeatIntervalNs) {
      throw new SkeinError(ErrorCode.ARG_INVALID, `peerTimeoutMs=${this.peerTimeoutNs / MS} must be longer than heartbeatIntervalMs=${this.heartbeatIntervalNs / MS}`);
    }
    this.connectTimeoutNs = option('connectTimeoutMs', options.connectTimeoutMs, 2000, 1, 600_000) * MS;
    const initialDelayMs = option('reconnectInitialDelayMs', options.reconnectInitialDelayMs, 50, 0, 60_000);
    const maxDelayMs = option('reconnectMaxDelayMs', options.reconnectMaxDelayMs, 2000, initialDelayMs, 600_000);
    this.reconnectDeadlineNs = option('reconnectDeadlineMs', options.reconnectDeadlineMs, Infinity, 1, Infinity) * MS;
    const prng: Prng = new SeededPrng(options.seed ?? randomSeed());
    this.backoff = new Backoff(initialDelayMs * MS, maxDelayMs * MS, prng);
    if (options.onStateChange !== undefined) this.listeners.push(options.onStateChange);

    this.slotBits = Math.log2(maxInFlight);
    this.slotMask = maxInFlight - 1;
    this.slotId = new Int32Array(maxInFlight).fill(FREE);
    this.slotGeneration = new Uint16Array(maxInFlight);
    this.slotDeadlineNs = new Float64Array(maxInFlight);
    this.slotTimeoutMs = new Float64Array(maxInFlight);
    this.slotHandler = new Array<ResponseHandler | null>(maxInFlight).fill(null);
    this.slotPromise = new Array<PendingPromise | null>(maxInFlight).fill(null);
    this.slotUnsent = new Array<Uint8Array | null>(maxInFlight).fill(null);
    this.freeSlots = new Int32Array(maxInFlight);
    for (let i = 0; i < maxInFlight; i++) this.freeSlots[i] = maxInFlight - 1 - i;
    this.freeCount = maxInFlight;
    this.plainQueue = new Int32Array(this.plain ? maxInFlight : 0);
    this.slotSent = new Uint8Array(maxInFlight);
    this.assembler = new FragmentAssembler((buffer, offset, length, header) => this.onMessage(buffer, offset, length, header));

    this.connectWaits = new Waits(() => client.clock.nanoTime(), {
      timedOut: (timeoutMs) => new SkeinError(ErrorCode.TIMEOUT, `not connected to the response server within ${timeoutMs} ms`, this.subject({ timeoutMs, state: this.stateValue })),
      aborted: (signal) => new SkeinAbortError('wait for the response server aborted', signal, this.subject({ state: this.stateValue })),
    });
    const nowNs = client.clock.nanoTime();
    this.outageStartNs = nowNs;
    this.enteredStateNs = nowNs;
    client.addAgent(this);
  }

  get state(): ResponseClientState {
    return this.stateValue;
  }

  /** Requests awaiting an answer. */
  get inFlight(): number {
    return this.maxInFlight - this.freeCount;
  }

  /** Plain framing: answers that came when no request was waiting for one (a server that answers unasked). */
  get strayAnswers(): number {
    return this.strayAnswerCount;
  }

  /** The request publication's session id, or undefined while there is none. */
  get sessionId(): number | undefined {
    return this.pair?.publication?.sessionId;
  }

  /** Subscribes to state changes; returns the function that unsubscribes. */
  onStateChange(listener: (change: ResponseClientStateChange) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /**
   * Resolves once CONNECTED. Rejects with the close error when CLOSED first, with
   * ERR_SKEIN_TIMEOUT after `timeoutMs` (no limit by default), and with an AbortError whose cause
   * is `signal.reason` when `signal` aborts.
   */
  connected(options: ConnectedOptions = {}): Promise<void> {
    try {
      checkConnectedOptions(options, this.subject({}));
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.stateValue === 'CONNECTED') return Promise.resolve();
    if (this.stateValue === 'CLOSED') return Promise.reject(this.closedError());
    return this.connectWaits.add(options);
  }

  /**
   * Sends a request and resolves with the answer's bytes. Rejects with a SkeinError naming the
   * channel, stream, session and correlation id: ERR_SKEIN_REQUEST_TIMEOUT, ERR_SKEIN_PEER_LOST,
   * ERR_SKEIN_NOT_CONNECTED and ERR_SKEIN_IN_FLIGHT_LIMIT are retryable (see isRetryable);
   * ERR_SKEIN_REQUEST_FAILED carries the server handler's error.
   */
  request(payload: Uint8Array | string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Uint8Array> {
    const bytes = typeof payload === 'string' ? encoder.encode(payload) : payload;
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutNs / MS;
    if (!(timeoutMs > 0)) return Promise.reject(new SkeinError(ErrorCode.ARG_INVALID, `timeoutMs=${timeoutMs} must be > 0`));
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.reject(new SkeinAbortError('request aborted before it was sent', signal, this.subject({})));
    return new Promise<Uint8Array>((resolve, reject) => {
      const slot = this.claimSlot(timeoutMs, reject);
      if (slot < 0) return;
      const correlationId = this.slotId[slot]!;
      const onAbort =
        signal === undefined
          ? undefined
          : (): void => {
              if (this.slotId[slot] !== correlationId) return;
              this.fail(slot, new SkeinAbortError('request aborted', signal, this.subject({ correlationId })));
            };
      this.slotPromise[slot] = { resolve, reject, signal, onAbort };
      signal?.addEventListener('abort', onAbort!, { once: true });
      this.send(slot, bytes, true);
    });
  }

  /**
   * The zero-allocation form: offers the request at once and returns its correlation id (any
   * int32), or returns null after telling `handler.onError` why it could not be sent (back
   * pressure is not queued here: retry). The outcome arrives at `handler` on the client's duty
   * cycle; the response `buffer` is only valid during the call.
   */
  requestWith(buffer: Uint8Array, offset: number, length: number, handler: ResponseHandler, timeoutMs = this.requestTimeoutNs / MS): number | null {
    const slot = this.claimSlot(timeoutMs, null, handler);
    if (slot < 0) return null;
    this.slotHandler[slot] = handler;
    const correlationId = this.slotId[slot]!;
    const result = this.offerRequest(slot, buffer, offset, length);
    if (result < 0) {
      this.fail(slot, this.offerError(result, correlationId));
      return null;
    }
    return correlationId;
  }

  /** Fails what is in flight, tells the server, releases the publication and subscription. Idempotent. */
  close(): void {
    if (this.stateValue === 'CLOSED') return;
    this.shutdown('close() called', ErrorCode.CLOSED, 'the response client was closed', {});
    this.client.removeAgent(this);
  }

  /** @internal */
  onClose(): void {
    if (this.stateValue === 'CLOSED') return;
    this.shutdown('client closed', ErrorCode.CLOSED, 'the Skein client was closed', {});
  }

  /** @internal */
  doWork(nowNs: number): number {
    if (this.stateValue === 'CLOSED') return 0;
    let work = 0;
    const pair = this.pair;
    const source = pair?.image ?? pair?.subscription;
    if (source != null) work += source.poll(this.assembler.onFragment, 16);
    if (this.unsentCount > 0) this.retryUnsent();
    if (this.connectWaits.count > 0) work += this.connectWaits.poll(nowNs);
    if (this.freeCount < this.maxInFlight && nowNs >= this.nextDeadlineScanNs) {
      this.nextDeadlineScanNs = nowNs + MS;
      this.expireRequests(nowNs);
    }
    switch (this.stateValue) {
      case 'CONNECTED':
        work += this.plain ? this.checkPlainPair(nowNs) : this.checkPeer(nowNs);
        break;
      case 'CONNECTING':
      case 'RECONNECTING':
        work += this.reconnect(nowNs);
        break;
    }
    return work;
  }

  /** Skein framing, CONNECTED: the server said CLOSE, or has been silent too long, or a heartbeat is due. */
  private checkPeer(nowNs: number): number {
    if (this.peerClosed) {
      this.peerClosed = false;
      this.transition('RECONNECTING', 'the server closed the session', nowNs);
      this.outageStartNs = nowNs;
      this.failAll(ErrorCode.PEER_LOST, 'the response server closed the session while the request was in flight');
      this.dropPair(nowNs, 'the server closed the session');
      return 1;
    }
    if (nowNs - this.lastHeardNs > this.peerTimeoutNs) {
      this.transition('RECONNECTING', `no answer or heartbeat from the server for ${Math.round((nowNs - this.lastHeardNs) / MS)} ms (peerTimeoutMs=${this.peerTimeoutNs / MS})`, nowNs);
      this.outageStartNs = nowNs;
      this.attemptDeadlineNs = nowNs + this.connectTimeoutNs;
      this.failAll(ErrorCode.PEER_LOST, 'the response server was lost while the request was in flight');
      return 1;
    }
    this.heartbeat(nowNs);
    return 0;
  }

  /**
   * Plain framing, CONNECTED: the pair is dropped (and rebuilt after a backoff) when its response
   * image went or ended, its request publication lost its connection, or a sent request was given up.
   */
  private checkPlainPair(nowNs: number): number {
    const reason = this.plainPairLoss();
    if (reason === null) return 0;
    this.transition('RECONNECTING', reason, nowNs);
    this.outageStartNs = nowNs;
    this.failAll(ErrorCode.PEER_LOST, `the request/response pair was dropped while the request was in flight: ${reason}`);
    this.dropPair(nowNs, reason);
    return 1;
  }

  private plainPairLoss(): string | null {
    if (this.spoiledReason !== null) return this.spoiledReason;
    const image = this.pair!.image!;
    const publication = this.pair!.publication!;
    if (image.isClosed) return `response image ${image.sessionId} from ${image.sourceIdentity} went away`;
    if (image.isEndOfStream) return `the server ended response stream ${image.sessionId}`;
    if (!publication.isConnected) return `request publication ${publication.sessionId} lost its connection to the server`;
    return null;
  }

  private reconnect(nowNs: number): number {
    if (nowNs - this.outageStartNs > this.reconnectDeadlineNs) {
      const message = `no connection to the response server within reconnectDeadlineMs=${this.reconnectDeadlineNs / MS} after ${this.backoff.attempts} attempts`;
      this.shutdown(message, ErrorCode.RECONNECT_FAILED, message, { timeoutMs: this.reconnectDeadlineNs / MS });
      this.client.removeAgent(this);
      return 1;
    }
    const pair = this.pair;
    if (pair === null) {
      if (nowNs < this.nextAttemptNs) return 0;
      this.startPair(nowNs);
      return 1;
    }
    if (pair.failure !== null) {
      const reason = `building the request/response pair failed: ${pair.failure.message}`;
      this.dropPair(nowNs, reason);
      return 1;
    }
    if (pair.publication !== null && pair.subscription !== null) {
      const connected = this.plain ? this.plainPairReady(pair, pair.publication, pair.subscription) : this.framedPairReady(pair, pair.publication, nowNs);
      if (connected !== null) {
        this.backoff.reset();
        this.transition('CONNECTED', connected, nowNs);
        return 1;
      }
    }
    if (nowNs > this.attemptDeadlineNs) {
      this.dropPair(nowNs, `${this.plain ? this.plainWaitingFor(pair) : 'no heartbeat answer'} within connectTimeoutMs=${this.connectTimeoutNs / MS}`);
      return 1;
    }
    return 0;
  }

  /** Skein framing: why the pair counts as connected (a heartbeat came back over it), or null after sending a heartbeat when one is due. */
  private framedPairReady(pair: Pair, publication: Publication, nowNs: number): string | null {
    if (this.lastHeardNs > this.enteredStateNs && this.lastHeardNs >= pair.startedNs) return `heartbeat answered over session ${publication.sessionId}`;
    this.heartbeat(nowNs);
    return null;
  }

  /** Plain framing: why the pair counts as connected (publication connected, a live response image), or null. */
  private plainPairReady(pair: Pair, publication: Publication, subscription: Subscription): string | null {
    if (!publication.isConnected) return null;
    for (const image of subscription.images) {
      if (image.isClosed || image.isEndOfStream) continue;
      pair.image = image;
      return `request publication ${publication.sessionId} connected, response image ${image.sessionId} from ${image.sourceIdentity}`;
    }
    return null;
  }

  private plainWaitingFor(pair: Pair): string {
    if (pair.publication === null || pair.subscription === null) return 'the publication and subscription were not created';
    return pair.publication.isConnected ? 'no response image' : 'the request publication was not connected';
  }

  private startPair(nowNs: number): void {
    const pair: Pair = { subscription: null, publication: null, image: null, failure: null, closed: false, startedNs: nowNs };
    this.pair = pair;
    this.attemptDeadlineNs = nowNs + this.connectTimeoutNs;
    const client = this.client;
    client
      .addSubscription(`${this.responseControlChannel}|control-mode=response`, this.responseStreamId)
      .then((subscription) => {
        if (pair.closed) {
          subscription.close();
          return;
        }
        pair.subscription = subscription;
        return client.addPublication(`${this.requestChannel}|response-correlation-id=${subscription.registrationId}`, this.requestStreamId).then((publication) => {
          if (pair.closed) publication.close();
          else pair.publication = publication;
        });
      })
      .catch((error: unknown) => {
        pair.failure = error instanceof Error ? error : new Error(String(error));
      });
  }

  private dropPair(nowNs: number, reason: string): void {
    this.closePair();
    const delayNs = this.backoff.nextDelayNs();
    this.nextAttemptNs = nowNs + delayNs;
    if (this.stateValue === 'CONNECTING' || this.stateValue === 'RECONNECTING') {
      this.tell({ from: this.stateValue, to: this.stateValue, reason: `${reason}; rebuilding in ${Math.round(delayNs / MS)} ms (attempt ${this.backoff.attempts})`, atNs: nowNs });
    }
  }

  private closePair(): void {
    const pair = this.pair;
    if (pair === null) return;
    this.pair = null;
    pair.closed = true;
    pair.publication?.close();
    pair.subscription?.close();
    this.assembler.clear();
    // Whatever was sent on this pair is failed or answered by now; its answers can no longer come.
    for (; this.plainCount > 0; this.plainCount--) {
      const slot = this.plainQueue[this.plainHead]! & this.slotMask;
      this.plainHead = (this.plainHead + 1) & this.slotMask;
      this.slotSent[slot] = 0;
    }
    this.spoiledReason = null;
  }

  private heartbeat(nowNs: number): void {
    if (nowNs - this.lastHeartbeatNs < this.heartbeatIntervalNs) return;
    const publication = this.pair?.publication;
    if (publication == null) return;
    this.heartbeatId = (this.heartbeatId + 1) | 0;
    if (publication.offer(EMPTY, 0, 0, this.heartbeatId, markerWord(MessageKind.HEARTBEAT)) > 0) this.lastHeartbeatNs = nowNs;
  }

  private onMessage(buffer: Uint8Array, offset: number, length: number, header: Header): void {
    if (this.plain) {
      this.onPlainAnswer(buffer, offset, length);
      return;
    }
    const kind = messageKind(header.reservedValueHigh);
    const nowNs = this.client.clock.nanoTime();
    if (kind === MessageKind.HEARTBEAT) {
      this.lastHeardNs = nowNs;
      return;
    }
    if (kind === MessageKind.CLOSE) {
      this.peerClosed = true;
      return;
    }
    if (kind !== MessageKind.RESPONSE && kind !== MessageKind.ERROR) return;
    this.lastHeardNs = nowNs;
    const correlationId = header.reservedValueLow;
    const slot = correlationId & this.slotMask;
    if (this.slotId[slot] !== correlationId) return; // late: the request already timed out or failed
    if (kind === MessageKind.ERROR) {
      const text = decoder.decode(buffer.subarray(offset, offset + length));
      this.fail(slot, new SkeinError(ErrorCode.REQUEST_FAILED, `the server failed the request: ${text}`, this.subject({ correlationId })));
      return;
    }
    this.complete(slot, correlationId, buffer, offset, length);
  }

  /**
   * Plain framing: every message answers the oldest request sent on the pair. The answer to a
   * request already given up is skipped (the pair is about to be dropped); an answer that no
   * request waits for is counted as stray.
   */
  private onPlainAnswer(buffer: Uint8Array, offset: number, length: number): void {
    if (this.plainCount === 0) {
      this.strayAnswerCount++;
      return;
    }
    const correlationId = this.plainQueue[this.plainHead]!;
    this.plainHead = (this.plainHead + 1) & this.slotMask;
    this.plainCount--;
    const slot = correlationId & this.slotMask;
    if (this.slotId[slot] !== correlationId) return;
    this.complete(slot, correlationId, buffer, offset, length);
  }

  /** Hands the answer to request `correlationId` to its handler or promise and frees its slot. */
  private complete(slot: number, correlationId: number, buffer: Uint8Array, offset: number, length: number): void {
    const handler = this.slotHandler[slot];
    const pending = this.slotPromise[slot];
    this.releaseSlot(slot);
    if (handler !== null) this.callResponseHandler(handler, correlationId, buffer, offset, length);
    else if (pending !== null) {
      if (pending.onAbort !== undefined) pending.signal?.removeEventListener('abort', pending.onAbort);
      pending.resolve(buffer.slice(offset, offset + length));
    }
  }

  /** Takes a free slot for a new request, or reports why not (to `reject` or `handler`) and returns -1. */
  private claimSlot(timeoutMs: number, reject: ((error: Error) => void) | null, handler?: ResponseHandler): number {
    let error: SkeinError | null = null;
    if (this.stateValue !== 'CONNECTED') {
      error =
        this.stateValue === 'CLOSED'
          ? this.closedError()
          : new SkeinError(ErrorCode.NOT_CONNECTED, `not connected to the response server`, this.subject({ state: this.stateValue }));
    } else if (this.spoiledReason !== null) {
      error = new SkeinError(ErrorCode.NOT_CONNECTED, `the request/response pair is being dropped: ${this.spoiledReason}`, this.subject({ state: this.stateValue }));
    } else if (this.freeCount === 0) {
      error = new SkeinError(ErrorCode.IN_FLIGHT_LIMIT, `${plural(this.maxInFlight, 'request is', 'requests are')} in flight, the most maxInFlight allows`, this.subject({}));
    }
    if (error !== null) {
      if (reject !== null) reject(error);
      else if (handler !== undefined) this.callErrorHandler(handler, 0, error);
      return -1;
    }
    const slot = this.freeSlots[--this.freeCount]!;
    const generation = (this.slotGeneration[slot]! + 1) & 0xffff;
    this.slotGeneration[slot] = generation;
    const correlationId = ((generation << this.slotBits) | slot) | 0;
    this.slotId[slot] = correlationId;
    this.slotTimeoutMs[slot] = timeoutMs;
    this.slotDeadlineNs[slot] = this.client.clock.nanoTime() + timeoutMs * MS;
    return slot;
  }

  /**
   * Offers the request in `slot`: framed with its correlation id, or plain and then queued for
   * in-order matching. Returns the offer's result; NOT_CONNECTED while there is no publication
   * or the pair is about to be dropped.
   */
  private offerRequest(slot: number, buffer: Uint8Array, offset: number, length: number): number {
    const publication = this.pair?.publication;
    if (publication == null) return NOT_CONNECTED;
    if (!this.plain) return publication.offer(buffer, offset, length, this.slotId[slot]!, markerWord(MessageKind.REQUEST));
    if (this.spoiledReason !== null) return NOT_CONNECTED;
    const result = publication.offer(buffer, offset, length);
    if (result > 0) {
      if (this.plainCount >= this.maxInFlight) failAssertion(`plain answer queue overflow: ${this.plainCount} of ${this.maxInFlight}`);
      this.plainQueue[(this.plainHead + this.plainCount) & this.slotMask] = this.slotId[slot]!;
      this.plainCount++;
      this.slotSent[slot] = 1;
    }
    return result;
  }

  private send(slot: number, bytes: Uint8Array, queueOnBackPressure: boolean): void {
    const correlationId = this.slotId[slot]!;
    const result = this.offerRequest(slot, bytes, 0, bytes.length);
    if (result > 0) {
      if (this.slotUnsent[slot] !== null) {
        this.slotUnsent[slot] = null;
        this.unsentCount--;
      }
      return;
    }
    if (queueOnBackPressure && (result === BACK_PRESSURED || result === ADMIN_ACTION)) {
      if (this.slotUnsent[slot] === null) {
        this.slotUnsent[slot] = bytes;
        this.unsentCount++;
      }
      return;
    }
    this.fail(slot, this.offerError(result, correlationId));
  }

  private retryUnsent(): void {
    const unsent = this.slotUnsent;
    for (let slot = 0; slot < unsent.length && this.unsentCount > 0; slot++) {
      const bytes = unsent[slot];
      if (bytes != null) this.send(slot, bytes, true);
    }
  }

  private offerError(result: number, correlationId: number): SkeinError {
    if (result === BACK_PRESSURED || result === ADMIN_ACTION) {
      return new SkeinError(ErrorCode.BACK_PRESSURED, `the request could not be sent now (${publicationCodeName(result)})`, this.subject({ correlationId }));
    }
    if (result === NOT_CONNECTED) {
      return new SkeinError(ErrorCode.NOT_CONNECTED, `the request could not be sent (${publicationCodeName(result)})`, this.subject({ correlationId }));
    }
    return new SkeinError(ErrorCode.PEER_LOST, `the request publication refused the request (${publicationCodeName(result)})`, this.subject({ correlationId }));
  }

  private expireRequests(nowNs: number): void {
    const ids = this.slotId;
    const deadlines = this.slotDeadlineNs;
    for (let slot = 0; slot < ids.length; slot++) {
      if (ids[slot] === FREE || nowNs < deadlines[slot]!) continue;
      const timeoutMs = this.slotTimeoutMs[slot]!;
      const correlationId = ids[slot]!;
      const unsent = this.slotUnsent[slot] !== null;
      this.fail(
        slot,
        new SkeinError(
          ErrorCode.REQUEST_TIMEOUT,
          unsent ? 'the request could not be sent before its deadline (back pressure)' : 'no answer before the request deadline',
          this.subject({ correlationId, timeoutMs }),
        ),
      );
    }
  }

  private fail(slot: number, error: SkeinError): void {
    const correlationId = this.slotId[slot]!;
    if (correlationId === FREE) return;
    if (this.slotSent[slot] === 1 && this.spoiledReason === null) {
      // Plain framing: its answer may still come, and nothing would tell it from the next one's.
      this.spoiledReason = `request ${correlationId} was sent and then given up (${error.code}); a plain answer cannot be told from the next one's`;
    }
    const handler = this.slotHandler[slot];
    const pending = this.slotPromise[slot];
    this.releaseSlot(slot);
    if (handler !== null) this.callErrorHandler(handler, correlationId, error);
    else if (pending !== null) {
      if (pending.onAbort !== undefined) pending.signal?.removeEventListener('abort', pending.onAbort);
      pending.reject(error);
    }
  }

  private failAll(code: SkeinErrorCode, message: string): void {
    const ids = this.slotId;
    for (let slot = 0; slot < ids.length; slot++) {
      if (ids[slot] !== FREE) this.fail(slot, new SkeinError(code, message, this.subject({ correlationId: ids[slot]!, state: this.stateValue })));
    }
  }

  private releaseSlot(slot: number): void {
    this.slotId[slot] = FREE;
    this.slotHandler[slot] = null;
    this.slotPromise[slot] = null;
    this.slotSent[slot] = 0;
    if (this.slotUnsent[slot] !== null) {
      this.slotUnsent[slot] = null;
      this.unsentCount--;
    }
    this.freeSlots[this.freeCount++] = slot;
  }

  /** Ends the client for good: tells the server, fails what is in flight with `code`, releases the pair. */
  private shutdown(reason: string, code: SkeinErrorCode, message: string, extra: { timeoutMs?: number }): void {
    const nowNs = this.client.clock.nanoTime();
    this.closeError = new SkeinError(code, message, this.subject({ ...extra, state: 'CLOSED' }));
    const publication = this.pair?.publication;
    if (!this.plain && publication != null && publication.isConnected) publication.offer(EMPTY, 0, 0, 0, markerWord(MessageKind.CLOSE));
    this.transition('CLOSED', reason, nowNs);
    this.failAll(code, message);
    this.closePair();
  }

  private closedError(): SkeinError {
    return this.closeError ?? new SkeinError(ErrorCode.CLOSED, 'the response client is closed', this.subject({ state: 'CLOSED' }));
  }

  private transition(to: ResponseClientState, reason: string, nowNs: number): void {
    const from = this.stateValue;
    if (from === to) return;
    this.stateValue = to;
    this.enteredStateNs = nowNs;
    if (to === 'CONNECTED') this.connectWaits.settleAll(null);
    else if (to === 'CLOSED') this.connectWaits.settleAll(this.closedError());
    this.tell({ from, to, reason, atNs: nowNs });
  }

  /** Tells every listener; one that throws is reported and counted, and the state machine goes on. */
  private tell(change: ResponseClientStateChange): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch (thrown) {
        this.client.reportHandlerError(handlerFailed(`onStateChange listener (${change.from} -> ${change.to})`, thrown, this.subject({ state: change.to })));
      }
    }
  }

  private callResponseHandler(handler: ResponseHandler, correlationId: number, buffer: Uint8Array, offset: number, length: number): void {
    try {
      handler.onResponse(correlationId, buffer, offset, length);
    } catch (thrown) {
      this.client.reportHandlerError(handlerFailed('ResponseHandler.onResponse', thrown, this.subject({ correlationId })));
    }
  }

  private callErrorHandler(handler: ResponseHandler, correlationId: number, error: SkeinError): void {
    try {
      handler.onError(correlationId, error);
    } catch (thrown) {
      this.client.reportHandlerError(handlerFailed('ResponseHandler.onError', thrown, this.subject({ correlationId })));
    }
  }

  private subject(extra: { correlationId?: number; timeoutMs?: number; state?: string }): {
    channel: string;
    streamId: number;
    sessionId?: number;
    correlationId?: number;
    timeoutMs?: number;
    state?: string;
  } {
    const sessionId = this.pair?.publication?.sessionId;
    return { channel: this.requestChannel, streamId: this.requestStreamId, ...(sessionId === undefined ? {} : { sessionId }), ...extra };
  }
}

const EMPTY = new Uint8Array(0);

/** @internal It runs as an agent on its client's duty cycle. */
export type ResponseClientRoles = Implements<Agent, ResponseClient>;
