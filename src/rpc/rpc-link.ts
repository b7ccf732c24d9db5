/**
 * A consumer's link to one provider (docs/rpc.md, "Links"): a response subscription on the
 * provider's response control address (`control-mode=response`) and a request publication to
 * its request endpoint that asks for responses on it, then a HELLO naming the service, answered
 * by HELLO_ACK with the provider's incarnation. States:
 *
 *   RESOLVING --(address known)--> OPENING --(publication connected)--> HELLO --(HELLO_ACK)--> READY
 *   any --(failure: unresolved, refused, no ACK, heartbeat silence, response image gone)--> FAILED
 *   any --(close)--> CLOSED
 *
 * While READY the link sends a PING every heartbeatIntervalMs and counts the provider lost when
 * nothing at all has come from it for heartbeatTimeoutMs. The holder owns the connect deadline
 * and the retries; the link only reports what happened, once. Calls in flight on a link that
 * fails or closes are told so at once.
 */
import type { SkeinClient } from '../client/skein-client.js';
import type { Publication } from '../client/publication.js';
import type { Subscription } from '../client/subscription.js';
import type { Image } from '../client/image.js';
import { IntMap } from '../util/int-map.js';
import { FragmentAssembler } from '../logbuffer/fragment-assembler.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import { EMPTY_METADATA, FrameReader, FrameType, FrameWriter, type FrameFields, type Metadata } from './rpc-frames.js';
import type { LinkFactory, LinkFailure, LinkListener, ProviderLink } from './provider-connection.js';
import { parseAddress, type ProviderEntry } from './registry.js';
import { RPC_DEFAULTS, checkRpcMtu, providerChannels } from './rpc-defaults.js';

export type RpcLinkState = 'RESOLVING' | 'OPENING' | 'HELLO' | 'READY' | 'FAILED' | 'CLOSED';

const MS = 1_000_000;

/** What a call in flight on a link hears. */
export interface LinkCallListener {
  onFrame(reader: FrameReader): void;
  /** The link failed or closed with the call in flight. */
  onLinkDown(reason: string): void;
}

/** Turns a host name into an address the driver takes (an IP literal); rejects with a message containing ENOTFOUND when the name does not resolve. */
export type HostResolver = (host: string) => Promise<string>;

export interface RpcLinkSettings {
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly requestStreamId: number;
  readonly responseStreamId: number;
  /** The request publication's MTU; default {@link RPC_DEFAULTS.loopbackMtu} to a loopback provider, else the driver's. */
  readonly mtu?: number;
}

const IP_LITERAL = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*)$/;

export class RpcLink implements ProviderLink {
  readonly address: string;
  readonly entry: ProviderEntry;
  private stateValue: RpcLinkState = 'RESOLVING';
  private readonly owner: RpcLinks;
  private readonly listener: LinkListener;
  private subscription: Subscription | null = null;
  private publication: Publication | null = null;
  private image: Image | null = null;
  /** Calls in flight by call id (an IntMap: a Map churned per call made the garbage collector promote most of what calls allocate). */
  private readonly calls = new IntMap<LinkCallListener>();
  private readonly assembler: FragmentAssembler;
  private readonly reader = new FrameReader();
  private readonly writer = new FrameWriter();
  /**
   * When this link last heard from its provider: the time of the duty cycle whose poll brought
   * frames (the clock is not read per frame: clock reads were a noticeable share of a busy
   * consumer's time). It also times the round trips of the calls answered in that poll.
   */
  heardNs = 0;
  /** The time of the current duty cycle, for the frames its poll brings. */
  private pollNs = 0;
  private nextPingNs = 0;
  private pingSequence = 0;
  /** The provider's incarnation from its HELLO_ACK. */
  incarnation = '';
  /** The provider said GOAWAY: no new calls. */
  draining = false;
  framesDropped = 0;

  constructor(owner: RpcLinks, entry: ProviderEntry, listener: LinkListener) {
    this.owner = owner;
    this.entry = entry;
    this.address = entry.address;
    this.listener = listener;
    this.assembler = new FragmentAssembler((buffer: Uint8Array, offset: number, length: number) => this.onMessage(buffer, offset, length));
  }

  get state(): RpcLinkState {
    return this.stateValue;
  }

  get inFlight(): number {
    return this.calls.size;
  }

  /** @internal Starts resolving and opening. */
  start(): void {
    const { host } = parseAddress(this.entry.address);
    const literal = host === 'localhost' || IP_LITERAL.test(host);
    if (literal) {
      this.open(host);
      return;
    }
    this.owner.resolver(host).then(
      (ip) => {
        if (this.stateValue === 'RESOLVING') this.open(ip);
      },
      (error: unknown) => this.fail(/ENOTFOUND|EAI_NONAME|EAI_AGAIN|not resolve/i.test(String((error as Error)?.message ?? error)) ? 'unresolved' : 'refused', `cannot resolve ${host}: ${(error as Error)?.message ?? String(error)}`),
    );
  }

  private open(host: string): void {
    this.stateValue = 'OPENING';
    const channels = providerChannels(this.entry, host, this.owner.settings.mtu);
    const client = this.owner.client;
    client
      .addSubscription(`${channels.responseControl}|control-mode=response`, this.owner.settings.responseStreamId, {
        onUnavailableImage: (image) => {
          if (image === this.image) this.fail('lost', `the response stream from ${this.address} went away (image ${image.sessionId})`);
        },
      })
      .then((subscription) => {
        if (this.isDone()) {
          subscription.close();
          return undefined;
        }
        this.subscription = subscription;
        return client.addExclusivePublication(`${channels.request}|response-correlation-id=${subscription.registrationId}`, this.owner.settings.requestStreamId).then((publication) => {
          if (this.isDone()) publication.close();
          else this.publication = publication;
        });
      })
      .catch((error: unknown) => this.fail('refused', `cannot open the link to ${this.address}: ${(error as Error)?.message ?? String(error)}`));
  }

  /** Sends a frame now; false when the publication cannot take it (not connected, back-pressured). */
  send(fields: FrameFields, payload?: Uint8Array): boolean {
    const publication = this.publication;
    if (publication === null || (this.stateValue !== 'READY' && this.stateValue !== 'HELLO')) return false;
    const length = this.writer.write(fields, payload);
    if (length > publication.maxMessageLength) {
      throw new SkeinError(ErrorCode.MESSAGE_TOO_LONG, `RPC frame of ${length} bytes exceeds the link's largest message, ${publication.maxMessageLength} bytes (provider ${this.address})`);
    }
    const bytes = this.writer.bytes;
    for (let i = 0; i < 3; i++) if (publication.offer(bytes, 0, length) > 0) return true;
    return false;
  }

  /** Registers a call so that its frames reach it. */
  addCall(callId: number, listener: LinkCallListener): void {
    this.calls.set(callId, listener);
  }

  removeCall(callId: number): void {
    this.calls.delete(callId);
  }

  /** @internal One duty cycle: handshake steps, polling, heartbeats. */
  doWork(nowNs: number): number {
    let work = 0;
    switch (this.stateValue) {
      case 'OPENING':
        if (this.publication !== null && this.publication.isConnected) {
          this.stateValue = 'HELLO';
          this.heardNs = nowNs;
          this.sendHello();
          this.nextPingNs = nowNs + 100 * MS;
          work++;
        }
        break;
      case 'HELLO':
        work += this.poll(nowNs);
        // The HELLO may have been lost with the first datagrams: say it again until answered.
        if (this.stateValue === 'HELLO' && nowNs >= this.nextPingNs) {
          this.sendHello();
          this.nextPingNs = nowNs + 100 * MS;
        }
        break;
      case 'READY':
        work += this.poll(nowNs);
        if (this.stateValue !== 'READY') break;
        if (nowNs - this.heardNs >= this.owner.settings.heartbeatTimeoutMs * MS) {
          this.fail('lost', `nothing from ${this.address} for heartbeatTimeoutMs=${this.owner.settings.heartbeatTimeoutMs}`);
          work++;
        } else if (nowNs >= this.nextPingNs) {
          this.nextPingNs = nowNs + this.owner.settings.heartbeatIntervalMs * MS;
          this.send({ type: FrameType.PING, callId: 0, arg: ++this.pingSequence >>> 0 });
          work++;
        }
        break;
      default:
        break;
    }
    return work;
  }

  /** Releases the publication, the subscription and every call; idempotent. */
  close(): void {
    if (this.stateValue === 'CLOSED') return;
    const wasFailed = this.stateValue === 'FAILED';
    this.stateValue = 'CLOSED';
    this.release(wasFailed ? 'the link failed' : 'the link was closed');
  }

  private sendHello(): void {
    this.send({ type: FrameType.HELLO, callId: 0, name: this.owner.service, metadata: this.owner.consumerMetadata });
  }

  private poll(nowNs: number): number {
    const subscription = this.subscription;
    if (subscription === null) return 0;
    if (this.image === null) {
      const sessionId = this.publication?.sessionId;
      const image = subscription.images.find((i) => i.sessionId === sessionId) ?? subscription.images[0];
      if (image === undefined) return 0;
      this.image = image;
    }
    this.pollNs = nowNs;
    return this.image.poll(this.assembler.onFragment, 64);
  }

  private onMessage(buffer: Uint8Array, offset: number, length: number): void {
    let reader: FrameReader;
    try {
      reader = this.reader.wrap(buffer, offset, length);
    } catch (error) {
      this.framesDropped++;
      const image = this.image;
      this.owner.reportError(new SkeinError(ErrorCode.PROTOCOL_INVALID, `link to ${this.address}: frame dropped: ${(error as Error)?.message ?? String(error)}`, {
        ...(image === null ? {} : { channel: image.channel, streamId: image.streamId, sessionId: image.sessionId }), cause: error,
      }));
      return;
    }
    this.heardNs = this.pollNs;
    switch (reader.type) {
      case FrameType.HELLO_ACK:
        if (this.stateValue !== 'HELLO') return;
        if (reader.arg !== 0) {
          this.fail('refused', `provider ${this.address} refused the link: ${reader.name}`);
          return;
        }
        this.incarnation = reader.name;
        if (this.entry.incarnation !== '' && this.incarnation !== this.entry.incarnation) {
          this.fail('refused', `provider ${this.address} is incarnation '${this.incarnation}', the registry listed '${this.entry.incarnation}'`);
          return;
        }
        this.stateValue = 'READY';
        this.nextPingNs = this.owner.client.nanoTime() + this.owner.settings.heartbeatIntervalMs * MS;
        this.listener.onLinkReady();
        return;
      case FrameType.PONG:
        return;
      case FrameType.PING:
        this.send({ type: FrameType.PONG, callId: 0, arg: reader.arg });
        return;
      case FrameType.GOAWAY:
        if (this.draining) return;
        this.draining = true;
        this.listener.onLinkDraining();
        return;
      default: {
        const call = this.calls.get(reader.callId);
        if (call === undefined) {
          this.owner.lateFrames++;
          return;
        }
        call.onFrame(reader);
      }
    }
  }

  private fail(kind: LinkFailure, reason: string): void {
    if (this.isDone()) return;
    this.stateValue = 'FAILED';
    this.release(reason);
    this.listener.onLinkFailed(kind, reason);
  }

  private release(reason: string): void {
    this.publication?.close();
    this.subscription?.close();
    this.publication = null;
    this.subscription = null;
    this.image = null;
    this.owner.forget(this);
    const calls = this.calls.valuesArray();
    this.calls.clear();
    for (const call of calls) call.onLinkDown(reason);
  }

  private isDone(): boolean {
    return this.stateValue === 'FAILED' || this.stateValue === 'CLOSED';
  }
}

/** Opens links for the connection holder and steps them on the consumer's duty cycle. */
export class RpcLinks implements LinkFactory {
  readonly client: SkeinClient;
  readonly service: string;
  readonly settings: RpcLinkSettings;
  readonly resolver: HostResolver;
  readonly consumerMetadata: Metadata;
  private readonly onError: (error: unknown) => void;
  private readonly links = new Set<RpcLink>();
  /** Frames for calls no longer waiting (answered, timed out, cancelled): counted, not logged one by one. */
  lateFrames = 0;

  constructor(client: SkeinClient, service: string, options: { settings?: Partial<RpcLinkSettings>; resolver: HostResolver; consumerMetadata?: Metadata; onError?: (error: unknown) => void }) {
    this.client = client;
    this.service = service;
    this.settings = {
      heartbeatIntervalMs: options.settings?.heartbeatIntervalMs ?? RPC_DEFAULTS.heartbeatIntervalMs,
      heartbeatTimeoutMs: options.settings?.heartbeatTimeoutMs ?? RPC_DEFAULTS.heartbeatTimeoutMs,
      requestStreamId: options.settings?.requestStreamId ?? RPC_DEFAULTS.requestStreamId,
      responseStreamId: options.settings?.responseStreamId ?? RPC_DEFAULTS.responseStreamId,
      ...(options.settings?.mtu === undefined ? {} : { mtu: options.settings.mtu }),
    };
    checkRpcMtu(this.settings.mtu, `RPC consumer of ${service}`);
    this.resolver = options.resolver;
    this.consumerMetadata = options.consumerMetadata ?? EMPTY_METADATA;
    this.onError = options.onError ?? ((error) => client.reportError(error));
  }

  get openCount(): number {
    return this.links.size;
  }

  open(entry: ProviderEntry, listener: LinkListener): RpcLink {
    const link = new RpcLink(this, entry, listener);
    this.links.add(link);
    link.start();
    return link;
  }

  /** @internal Steps every link. */
  doWork(nowNs: number): number {
    let work = 0;
    for (const link of this.links) work += link.doWork(nowNs);
    return work;
  }

  /** @internal */
  forget(link: RpcLink): void {
    this.links.delete(link);
  }

  /** @internal */
  reportError(error: unknown): void {
    this.onError(error);
  }

  closeAll(): void {
    for (const link of [...this.links]) link.close();
  }
}
