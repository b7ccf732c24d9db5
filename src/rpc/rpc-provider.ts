/**
 * A provider: serves one service's methods to every consumer link that reaches its request
 * endpoint (docs/rpc.md, "Providers"). Per link (request image) it adds a response publication
 * and answers HELLO with its incarnation; then it runs calls:
 *
 * - deadlines travel in the CALL; the provider's own deadline for the call starts on arrival and
 *   aborts the handler's `signal` when it passes, answering DEADLINE_EXCEEDED;
 * - CANCEL from the consumer aborts the handler's signal and answers CANCELLED;
 * - each method runs at most `maxConcurrent` calls at once; one more is refused with
 *   RESOURCE_EXHAUSTED naming the limit, before its handler runs;
 * - `close()` is graceful: deregister from the registry first, GOAWAY to every link (consumers
 *   stop sending new calls), refuse new calls with UNAVAILABLE, let calls in flight finish up to
 *   `drainTimeoutMs`, abort the rest, then release everything. `closeNow()` skips the waiting.
 *
 * Responses that the publication cannot take at once wait in a bounded queue per link and are
 * offered again on every duty cycle.
 */
import { IntMap } from '../util/int-map.js';
import { holdResponseControl } from '../response/response-server.js';
import type { SkeinClient } from '../client/skein-client.js';
import type { Publication } from '../client/publication.js';
import type { Subscription } from '../client/subscription.js';
import type { Image } from '../client/image.js';
import type { Header } from '../logbuffer/header.js';
import { FragmentAssembler } from '../logbuffer/fragment-assembler.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import { randomSeed } from '../env/prng.js';
import { EMPTY_METADATA, FrameFlag, FrameReader, FrameType, FrameWriter, encodeNames, type FrameFields, type Metadata } from './rpc-frames.js';
import { RpcError, RpcStatus, type RpcStatusName } from './rpc-status.js';
import { RPC_DEFAULTS, checkRpcMtu, mtuParam } from './rpc-defaults.js';
import type { AnyMethod, CallContext, MethodMap, ServiceDescriptor, ServiceImplementation, StreamSink } from './service.js';
import type { Registration, Registry } from './registry.js';
import { parseAddress, providerEntry } from './registry.js';

/**
 * Request endpoints served by the providers of each client. Subscriptions of one driver to the
 * same endpoint and stream share it (Aeron's fan-out), so a second provider on an address in the
 * same process would bind nothing and answer the same consumers as the first.
 */
const servedEndpoints = new WeakMap<SkeinClient, Map<string, string>>();

const MS = 1_000_000;
const MAX_QUEUED_FRAMES = 4096;
/** A draining provider closes only after no call has arrived for this long. */
const DRAIN_QUIET_NS = 200 * MS;

export interface RpcProviderOptions<M extends MethodMap> {
  readonly service: ServiceDescriptor<M>;
  readonly implementation: ServiceImplementation<M>;
  /** The request endpoint, `host:port` (an IP literal or localhost). */
  readonly address: string;
  /** Where responses leave from: `host:port`; default the next port up. */
  readonly responseControl?: string;
  /** The address consumers are told (registered); default `address`. */
  readonly advertisedAddress?: string;
  /** Chosen at start when not given: a random 16-hex-digit id. */
  readonly incarnation?: string;
  readonly weight?: number;
  readonly registry?: Registry;
  readonly requestStreamId?: number;
  readonly responseStreamId?: number;
  readonly drainTimeoutMs?: number;
  /** A link silent for this long (no frame, no heartbeat) is dropped. @default 3 × the consumers' heartbeat timeout, 15000 */
  readonly linkTimeoutMs?: number;
  /**
   * The MTU of the response publications; default {@link RPC_DEFAULTS.loopbackMtu} to a consumer
   * on a loopback address (as its request's source address says), else the driver's.
   */
  readonly mtu?: number;
  readonly onError?: (error: unknown) => void;
  /** Random 32-bit values for the incarnation (tests pass a seeded source). */
  readonly random?: () => number;
}

export type ProviderServerState = 'SERVING' | 'DRAINING' | 'CLOSED';

interface ActiveCall {
  readonly link: ProviderLinkSession;
  readonly callId: number;
  readonly method: string;
  readonly descriptor: AnyMethod;
  /** Made on first use of the handler's signal (most calls never look at it). */
  controller: AbortController | null;
  readonly deadlineNs: number;
  /** Made by the first setTrailer. */
  trailers: Record<string, string> | null;
  readonly methodIndex: number;
  done: boolean;
  credits: number;
  /** Stream sends waiting for credit; made by the first that waits. */
  creditWaiters: (() => void)[] | null;
}

class ProviderLinkSession {
  readonly image: Image;
  publication: Publication | null = null;
  readonly queue: { bytes: Uint8Array }[] = [];
  /** Calls running, by call id (an IntMap: a Map churned per call made the garbage collector promote most of what calls allocate). */
  readonly calls = new IntMap<ActiveCall>();
  lastHeardNs: number;
  helloDone = false;
  closed = false;

  constructor(image: Image, nowNs: number) {
    this.image = image;
    this.lastHeardNs = nowNs;
  }
}

export class RpcProvider<M extends MethodMap = MethodMap> {
  readonly roleName: string;
  readonly service: ServiceDescriptor<M>;
  readonly incarnation: string;
  readonly address: string;
  private readonly client: SkeinClient;
  private readonly implementation: ServiceImplementation<M>;
  private readonly options: RpcProviderOptions<M>;
  private readonly onError: (error: unknown) => void;
  private subscription: Subscription | null = null;
  private readonly links = new Map<number, ProviderLinkSession>();
  private readonly assembler: FragmentAssembler;
  private readonly reader = new FrameReader();
  private readonly writer = new FrameWriter();
  /** The fields of an END frame, filled in for each answer (one object, not one per call). */
  private readonly endFields: { readonly type: typeof FrameType.END; callId: number; arg: number; name: string; metadata: Metadata } = {
    type: FrameType.END, callId: 0, arg: 0, name: '', metadata: EMPTY_METADATA,
  };
  /** Calls running per method, by method index. */
  private running: Int32Array = new Int32Array(0);
  /** Method names, their UTF-8 bytes and descriptors, in one order: a CALL's method is found by comparing bytes. */
  private readonly methodNames: readonly string[];
  private readonly methodBytes: readonly Uint8Array[];
  private readonly methodDescriptors: readonly AnyMethod[];
  private registration: Registration | null = null;
  private stateValue: ProviderServerState = 'SERVING';
  private drainDeadlineNs = -1;
  private lastCallNs = 0;
  private nextScanNs = 0;
  /** The duty cycle's time, read once for every frame its poll brings (clock reads were a noticeable share of a busy provider's time). */
  private pollNs = 0;
  /** The prototype response publication that keeps the response control address bound. */
  private responseReservation: Publication | null = null;
  /** Gives up this provider's claim on its request endpoint (see servedEndpoints). */
  private releaseEndpoint: (() => void) | null = null;
  private drained: (() => void) | null = null;
  private readonly linkTimeoutNs: number;
  private readonly drainTimeoutNs: number;
  /** Counters for `skein rpc` and tests. */
  readonly stats = { calls: 0, refusedBusy: 0, refusedDraining: 0, deadlineExceeded: 0, cancelled: 0, failed: 0, droppedFrames: 0, linksOpened: 0, linksGoneBeforeAnswer: 0 };

  private constructor(client: SkeinClient, options: RpcProviderOptions<M>) {
    this.client = client;
    this.options = options;
    this.service = options.service;
    this.implementation = options.implementation;
    this.address = options.address;
    for (const name of Object.keys(options.service.methods)) {
      if (typeof (options.implementation as Record<string, unknown>)[name] !== 'function') {
        throw new SkeinError(ErrorCode.CONFIG_INVALID, `provider of ${options.service.name}: no handler for method '${name}'`);
      }
    }
    this.methodNames = Object.keys(options.service.methods);
    this.methodBytes = encodeNames(this.methodNames);
    this.methodDescriptors = this.methodNames.map((name) => (options.service.methods as Record<string, AnyMethod>)[name]!);
    this.running = new Int32Array(this.methodNames.length);
    const random = options.random ?? randomSeed;
    this.incarnation = options.incarnation ?? `${(random() >>> 0).toString(16).padStart(8, '0')}${(random() >>> 0).toString(16).padStart(8, '0')}`;
    this.roleName = `rpc-provider ${options.service.name}`;
    this.onError = options.onError ?? ((error) => client.reportError(error));
    this.linkTimeoutNs = (options.linkTimeoutMs ?? 3 * RPC_DEFAULTS.heartbeatTimeoutMs) * MS;
    checkRpcMtu(options.mtu, `provider ${options.address} of ${options.service.name}`);
    this.drainTimeoutNs = (options.drainTimeoutMs ?? RPC_DEFAULTS.drainTimeoutMs) * MS;
    this.assembler = new FragmentAssembler((buffer: Uint8Array, offset: number, length: number, header: Header) => this.onMessage(buffer, offset, length, header));
  }

  /** Subscribes to the request endpoint, starts serving, then registers (when a registry is given). */
  static async start<M extends MethodMap>(client: SkeinClient, options: RpcProviderOptions<M>): Promise<RpcProvider<M>> {
    const provider = new RpcProvider(client, options);
    const streamId = options.requestStreamId ?? RPC_DEFAULTS.requestStreamId;
    const served = servedEndpoints.get(client) ?? new Map<string, string>();
    servedEndpoints.set(client, served);
    const endpointKey = `${options.address} stream ${streamId}`;
    const holder = served.get(endpointKey);
    if (holder !== undefined) {
      throw new SkeinError(
        ErrorCode.TRANSPORT_BIND_FAILED,
        `provider ${options.address} of ${options.service.name}: the request address ${options.address} (stream ${streamId}) is already served by ${holder} in this process; each provider needs an address of its own`,
      );
    }
    served.set(endpointKey, `provider ${options.address} of ${options.service.name} (incarnation ${provider.incarnation})`);
    provider.releaseEndpoint = () => served.delete(endpointKey);
    try {
      provider.subscription = await client.addSubscription(`aeron:udp?endpoint=${options.address}`, streamId, {
        onAvailableImage: (image) => provider.onAvailableImage(image),
        onUnavailableImage: (image) => provider.onUnavailableImage(image),
      });
      const control = options.responseControl ?? nextPort(options.address);
      provider.responseReservation = await holdResponseControl(
        client,
        `aeron:udp?control=${control}`,
        options.responseStreamId ?? RPC_DEFAULTS.responseStreamId,
        `provider ${options.address} of ${options.service.name}`,
        `address ${control}`,
      );
    } catch (error) {
      provider.closeNow();
      throw error;
    }
    for (const image of provider.subscription.images) provider.onAvailableImage(image);
    client.addAgent(provider);
    if (options.registry !== undefined) {
      try {
        provider.registration = await options.registry.register(options.service.name, providerEntry({
          address: options.advertisedAddress ?? options.address,
          incarnation: provider.incarnation,
          ...(options.weight === undefined ? {} : { weight: options.weight }),
          ...(options.responseControl === undefined ? {} : { metadata: { responseControl: options.responseControl } }),
        }));
      } catch (error) {
        provider.closeNow();
        throw error;
      }
    }
    return provider;
  }

  get state(): ProviderServerState {
    return this.stateValue;
  }

  get linkCount(): number {
    return this.links.size;
  }

  get inFlight(): number {
    let n = 0;
    for (const link of this.links.values()) n += link.calls.size;
    return n;
  }

  /**
   * Graceful shutdown: deregister, GOAWAY, refuse new calls, wait for the calls in flight (at
   * most drainTimeoutMs), abort what is left, release everything. Idempotent.
   */
  async close(): Promise<void> {
    if (this.stateValue === 'CLOSED') return;
    if (this.stateValue === 'SERVING') {
      this.stateValue = 'DRAINING';
      const registration = this.registration;
      this.registration = null;
      try {
        await registration?.close();
      } catch (error) {
        this.onError(error);
      }
      for (const link of this.links.values()) this.sendFrame(link, { type: FrameType.GOAWAY, callId: 0 });
      this.drainDeadlineNs = this.client.nanoTime() + this.drainTimeoutNs;
    }
    if (this.stateValue === 'DRAINING') {
      await new Promise<void>((resolve) => {
        const previous = this.drained;
        this.drained = () => {
          previous?.();
          resolve();
        };
      });
    }
    this.closeNow();
  }

  /** Aborts every call and releases everything at once; idempotent. */
  closeNow(): void {
    if (this.stateValue === 'CLOSED') return;
    this.stateValue = 'CLOSED';
    const registration = this.registration;
    this.registration = null;
    registration?.close().catch((error: unknown) => this.onError(error));
    for (const link of [...this.links.values()]) this.dropLink(link, 'the provider closed');
    this.subscription?.close();
    this.subscription = null;
    this.responseReservation?.close();
    this.responseReservation = null;
    this.releaseEndpoint?.();
    this.releaseEndpoint = null;
    this.client.removeAgent(this);
    const drained = this.drained;
    this.drained = null;
    drained?.();
  }

  /** @internal */
  onClose(): void {
    this.closeNow();
  }

  /** @internal */
  doWork(nowNs: number): number {
    if (this.stateValue === 'CLOSED' || this.subscription === null) return 0;
    this.pollNs = nowNs;
    let work = this.subscription.poll(this.assembler.onFragment, 64);
    const scan = nowNs >= this.nextScanNs;
    if (scan) this.nextScanNs = nowNs + MS;
    for (const link of this.links.values()) {
      work += this.flush(link);
      // Deadlines and silence are checked once a millisecond.
      if (!scan) continue;
      for (const call of link.calls.valuesArray()) {
        if (!call.done && nowNs >= call.deadlineNs) {
          this.stats.deadlineExceeded++;
          this.finish(call, 'DEADLINE_EXCEEDED', `the call's deadline passed on provider ${this.address}`);
          call.controller?.abort(new RpcError('DEADLINE_EXCEEDED', 'deadline passed', { service: this.service.name, method: call.method, callId: call.callId }));
          work++;
        }
      }
      if (nowNs - link.lastHeardNs > this.linkTimeoutNs) {
        this.dropLink(link, `the consumer was silent for ${Math.round((nowNs - link.lastHeardNs) / MS)} ms`);
        work++;
      }
    }
    // Drained: nothing in flight, every answer handed to the driver, and no call arriving for a
    // moment (calls sent before a consumer saw GOAWAY are refused, and the refusals must get out).
    if (this.stateValue === 'DRAINING' && this.drained !== null && ((this.inFlight === 0 && this.queuedFrames() === 0 && nowNs - this.lastCallNs >= DRAIN_QUIET_NS) || nowNs >= this.drainDeadlineNs)) {
      const drained = this.drained;
      this.drained = null;
      drained();
    }
    return work;
  }

  private queuedFrames(): number {
    let n = 0;
    for (const link of this.links.values()) n += link.queue.length;
    return n;
  }

  private onAvailableImage(image: Image): void {
    if (this.stateValue === 'CLOSED' || this.links.has(image.sessionId)) return;
    const link = new ProviderLinkSession(image, this.client.nanoTime());
    this.links.set(image.sessionId, link);
    this.stats.linksOpened++;
    const consumerHost = parseAddress(image.sourceIdentity).host;
    const channel = `aeron:udp?control=${this.options.responseControl ?? nextPort(this.options.address)}|control-mode=response${mtuParam(this.options.mtu, consumerHost)}|response-correlation-id=${image.correlationId}`;
    this.client.addPublication(channel, this.options.responseStreamId ?? RPC_DEFAULTS.responseStreamId).then(
      (publication) => {
        if (link.closed) publication.close();
        else link.publication = publication;
      },
      (error: unknown) => {
        // A consumer that went (its request image gone) before its answers had a way back is no error of ours.
        if (link.closed || image.isClosed) this.stats.linksGoneBeforeAnswer++;
        else this.onError(error);
        this.dropLink(link, `cannot add the response publication: ${(error as Error)?.message ?? String(error)}`);
      },
    );
  }

  private onUnavailableImage(image: Image): void {
    const link = this.links.get(image.sessionId);
    if (link !== undefined && link.image === image) this.dropLink(link, `the consumer's request stream ${image.sessionId} went away`);
  }

  private dropLink(link: ProviderLinkSession, reason: string): void {
    if (link.closed) return;
    link.closed = true;
    this.links.delete(link.image.sessionId);
    for (const call of link.calls.valuesArray()) {
      if (call.done) continue;
      call.done = true;
      this.release(call);
      call.controller?.abort(new RpcError('CANCELLED', `link closed: ${reason}`, { service: this.service.name, method: call.method, callId: call.callId }));
    }
    link.calls.clear();
    link.queue.length = 0;
    link.publication?.close();
    link.publication = null;
  }

  private onMessage(buffer: Uint8Array, offset: number, length: number, header: Header): void {
    const link = this.links.get(header.sessionId);
    if (link === undefined || link.closed) return;
    let reader: FrameReader;
    try {
      reader = this.reader.wrap(buffer, offset, length);
    } catch (error) {
      this.stats.droppedFrames++;
      this.onError(new SkeinError(ErrorCode.PROTOCOL_INVALID, `provider ${this.address}: frame from ${link.image.sourceIdentity} dropped: ${(error as Error)?.message ?? String(error)}`, {
        channel: link.image.channel, streamId: link.image.streamId, sessionId: link.image.sessionId, cause: error,
      }));
      return;
    }
    const nowNs = this.pollNs;
    link.lastHeardNs = nowNs;
    switch (reader.type) {
      case FrameType.HELLO:
        if (reader.name !== this.service.name) {
          this.sendFrame(link, { type: FrameType.HELLO_ACK, callId: 0, arg: RpcStatus.UNIMPLEMENTED, name: `service '${reader.name}' is not served here (this is ${this.service.name})` });
        } else if (this.stateValue !== 'SERVING') {
          this.sendFrame(link, { type: FrameType.HELLO_ACK, callId: 0, arg: RpcStatus.UNAVAILABLE, name: 'the provider is shutting down' });
        } else {
          link.helloDone = true;
          this.sendFrame(link, { type: FrameType.HELLO_ACK, callId: 0, arg: 0, name: this.incarnation });
        }
        return;
      case FrameType.PING:
        this.sendFrame(link, { type: FrameType.PONG, callId: 0, arg: reader.arg });
        return;
      case FrameType.PONG:
        return;
      case FrameType.CALL:
        this.lastCallNs = nowNs;
        this.onCall(link, reader, nowNs);
        return;
      case FrameType.CANCEL: {
        const call = link.calls.get(reader.callId);
        if (call === undefined || call.done) return;
        this.stats.cancelled++;
        this.finish(call, 'CANCELLED', 'cancelled by the consumer');
        call.controller?.abort(new RpcError('CANCELLED', 'cancelled by the consumer', { service: this.service.name, method: call.method, callId: call.callId }));
        return;
      }
      case FrameType.CREDIT: {
        const call = link.calls.get(reader.callId);
        if (call === undefined) return;
        call.credits += reader.arg;
        // Each waiter takes one credit as it sends.
        if (call.creditWaiters !== null) for (const w of call.creditWaiters.splice(0, call.credits)) w();
        return;
      }
      default:
        this.stats.droppedFrames++;
    }
  }

  private onCall(link: ProviderLinkSession, reader: FrameReader, nowNs: number): void {
    const callId = reader.callId;
    if (callId < 0) {
      // Consumers number calls from 1 up to 2^31 - 1: a negative id cannot be answered or tracked.
      this.stats.droppedFrames++;
      this.onError(new SkeinError(ErrorCode.PROTOCOL_INVALID, `provider ${this.address}: CALL with call id ${callId} from ${link.image.sourceIdentity} dropped; call ids are 0 to 2^31 - 1`, {
        channel: link.image.channel, streamId: link.image.streamId, sessionId: link.image.sessionId,
      }));
      return;
    }
    const index = reader.nameIndex(this.methodBytes);
    const methodName = index >= 0 ? this.methodNames[index]! : reader.name;
    const service = this.service.name;
    if (link.calls.has(callId)) return; // a duplicate of a call already running
    const descriptor = index >= 0 ? this.methodDescriptors[index] : undefined;
    const oneway = (reader.flags & FrameFlag.ONEWAY) !== 0;
    if (this.stateValue !== 'SERVING') {
      this.stats.refusedDraining++;
      this.refuse(link, callId, oneway, 'UNAVAILABLE', `provider ${this.address} is shutting down; the call did not run`);
      return;
    }
    if (descriptor === undefined) {
      this.refuse(link, callId, oneway, 'UNIMPLEMENTED', `method '${methodName}' is not part of service ${service}`);
      return;
    }
    const running = this.running[index]!;
    if (running >= descriptor.maxConcurrent) {
      this.stats.refusedBusy++;
      this.refuse(link, callId, oneway, 'RESOURCE_EXHAUSTED', `${service}.${methodName} runs ${running} calls, its maxConcurrent=${descriptor.maxConcurrent}; the call did not run`);
      return;
    }
    let request: unknown;
    try {
      request = reader.decodePayload(descriptor.requestCodec);
    } catch (error) {
      this.refuse(link, callId, oneway, 'INVALID_ARGUMENT', `the request of ${service}.${methodName} does not decode with codec ${descriptor.requestCodec.name}: ${(error as Error)?.message ?? String(error)}`);
      return;
    }
    const remainingMs = reader.arg;
    const call: ActiveCall = {
      link, callId, method: methodName, descriptor, controller: null, deadlineNs: remainingMs === 0 ? Number.POSITIVE_INFINITY : nowNs + remainingMs * MS,
      trailers: null, methodIndex: index, done: false, credits: RPC_DEFAULTS.streamWindow, creditWaiters: null,
    };
    this.stats.calls++;
    this.running[index] = running + 1;
    if (!oneway) link.calls.set(callId, call);
    const attempt = (reader.flags >>> 8) & 0xff;
    const context = new ProviderCallContext(this.client, call, service, reader.metadata(), attempt === 0 ? 1 : attempt);
    const handler = (this.implementation as Record<string, (...args: unknown[]) => unknown>)[methodName]!;
    let result: unknown;
    try {
      if (descriptor.kind === 'serverStream') {
        const sink: StreamSink<unknown> = { send: (value: unknown) => this.streamSend(call, value) };
        result = handler.call(this.implementation, request, sink, context);
      } else {
        result = handler.call(this.implementation, request, context);
      }
    } catch (error) {
      this.onHandlerFailed(call, oneway, error);
      return;
    }
    if (result === null || typeof result !== 'object' || typeof (result as { then?: unknown }).then !== 'function') {
      // Answered at once: the response goes out in this duty cycle.
      this.onHandlerDone(call, oneway, result);
      return;
    }
    (result as Promise<unknown>).then(
      (value) => this.onHandlerDone(call, oneway, value),
      (error: unknown) => this.onHandlerFailed(call, oneway, error),
    );
  }

  /** Answers a call that will not run with END(status); a NOT_RUN flag says it is safe to send elsewhere. */
  private refuse(link: ProviderLinkSession, callId: number, oneway: boolean, status: Exclude<RpcStatusName, 'OK'>, message: string): void {
    if (oneway) return;
    this.sendFrame(link, { type: FrameType.END, callId, arg: RpcStatus[status], name: message, flags: status === 'UNAVAILABLE' || status === 'RESOURCE_EXHAUSTED' ? FrameFlag.NOT_RUN : 0 });
  }

  private onHandlerDone(call: ActiveCall, oneway: boolean, value: unknown): void {
    if (oneway) {
      this.release(call);
      return;
    }
    if (call.done) return;
    const descriptor = call.descriptor;
    let payload: Uint8Array | undefined;
    if (descriptor.kind === 'unary') {
      try {
        payload = descriptor.responseCodec.encode(value);
      } catch (error) {
        this.finish(call, 'INTERNAL', `the response of ${this.service.name}.${call.method} does not encode with codec ${descriptor.responseCodec.name}: ${(error as Error)?.message ?? String(error)}`);
        return;
      }
      const max = call.link.publication?.maxMessageLength ?? Number.POSITIVE_INFINITY;
      if (payload.length + 1024 > max) {
        this.finish(call, 'RESOURCE_EXHAUSTED', `the response of ${this.service.name}.${call.method} is ${payload.length} bytes; a message on this link holds at most ${max - 1024}`);
        return;
      }
    }
    this.finish(call, 'OK', '', payload);
  }

  private onHandlerFailed(call: ActiveCall, oneway: boolean, error: unknown): void {
    if (oneway) {
      this.release(call);
      this.stats.failed++;
      this.onError(error);
      return;
    }
    if (call.done) return;
    this.stats.failed++;
    if (error instanceof RpcError) this.finish(call, error.status, error.detail.replace(/^[A-Z_]+: /, ''));
    else this.finish(call, 'UNKNOWN', `${this.service.name}.${call.method} failed: ${error instanceof Error ? error.message : String(error)}`);
  }

  private streamSend(call: ActiveCall, value: unknown): Promise<void> {
    if (call.done) return Promise.reject(new RpcError('CANCELLED', 'the call is over', { service: this.service.name, method: call.method, callId: call.callId }));
    let payload: Uint8Array;
    try {
      payload = call.descriptor.responseCodec.encode(value);
    } catch (error) {
      return Promise.reject(error);
    }
    const sendNow = (): void => {
      call.credits--;
      this.sendFrame(call.link, { type: FrameType.MESSAGE, callId: call.callId }, payload);
    };
    if (call.credits > 0) {
      sendNow();
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      (call.creditWaiters ??= []).push(() => {
        if (call.done) {
          reject(new RpcError('CANCELLED', 'the call is over', { service: this.service.name, method: call.method, callId: call.callId }));
          return;
        }
        sendNow();
        resolve();
      });
    });
  }

  private finish(call: ActiveCall, status: RpcStatusName, message: string, payload?: Uint8Array): void {
    if (call.done) return;
    call.done = true;
    this.release(call);
    call.link.calls.delete(call.callId);
    const fields = this.endFields;
    fields.callId = call.callId;
    fields.arg = RpcStatus[status];
    fields.name = message;
    fields.metadata = call.trailers ?? EMPTY_METADATA;
    this.sendFrame(call.link, fields, payload);
    fields.metadata = EMPTY_METADATA;
    if (call.creditWaiters !== null) for (const w of call.creditWaiters.splice(0)) w();
  }

  private release(call: ActiveCall): void {
    this.running[call.methodIndex]!--;
  }

  private sendFrame(link: ProviderLinkSession, fields: FrameFields, payload?: Uint8Array): void {
    if (link.closed) return;
    const length = this.writer.write(fields, payload);
    const bytes = this.writer.bytes;
    const publication = link.publication;
    if (link.queue.length === 0 && publication !== null) {
      for (let i = 0; i < 3; i++) if (publication.offer(bytes, 0, length) > 0) return;
    }
    if (link.queue.length >= MAX_QUEUED_FRAMES) {
      this.stats.droppedFrames++;
      this.dropLink(link, `${MAX_QUEUED_FRAMES} responses waiting for a consumer that does not take them`);
      return;
    }
    link.queue.push({ bytes: bytes.slice(0, length) });
  }

  private flush(link: ProviderLinkSession): number {
    const publication = link.publication;
    if (publication === null || link.queue.length === 0) return 0;
    let sent = 0;
    while (link.queue.length > 0) {
      const frame = link.queue[0]!;
      if (publication.offer(frame.bytes, 0, frame.bytes.length) <= 0) break;
      link.queue.shift();
      sent++;
    }
    return sent;
  }
}

/** What a handler gets beside its request: made per call, with its AbortController made only when `signal` is read. */
class ProviderCallContext implements CallContext {
  constructor(
    private readonly client: SkeinClient,
    private readonly call: ActiveCall,
    readonly service: string,
    readonly metadata: Metadata,
    readonly attempt: number,
  ) {}

  get method(): string {
    return this.call.method;
  }

  get signal(): AbortSignal {
    const call = this.call;
    if (call.controller === null) {
      call.controller = new AbortController();
      if (call.done) call.controller.abort(new RpcError('CANCELLED', 'the call is over', { service: this.service, method: call.method, callId: call.callId }));
    }
    return call.controller.signal;
  }

  get deadlineNs(): number {
    return this.call.deadlineNs;
  }

  remainingMs(): number {
    const deadlineNs = this.call.deadlineNs;
    return deadlineNs === Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : Math.max(0, (deadlineNs - this.client.nanoTime()) / MS);
  }

  setTrailer(key: string, value: string): void {
    (this.call.trailers ??= {})[key] = value;
  }
}

function nextPort(address: string): string {
  const i = address.lastIndexOf(':');
  return `${address.slice(0, i)}:${Number(address.slice(i + 1)) + 1}`;
}
