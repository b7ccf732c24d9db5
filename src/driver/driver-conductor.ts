import { SkeinError, ErrorCode } from '../util/errors.js';
import type { Agent } from '../agent/agent.js';
import type { DutyCycleTracker } from '../agent/duty-cycle-tracker.js';
import { Position } from '../agent/counters.js';
import { CounterTypeId } from '../agent/counter-types.js';
import type { MessageQueue } from '../command/message-queue.js';
import type { DriverCommand, DriverResponse, AddCounterCommand, AddPublicationCommand, AddSubscriptionCommand, DestinationCommand } from '../command/driver-messages.js';
import { ChannelUri, parseSocketAddress } from '../protocol/channel-uri.js';
import { LogBuffers } from '../logbuffer/log-buffers.js';
import { computePosition } from '../logbuffer/log-buffer-descriptor.js';
import { FrameFlags } from '../protocol/frame-constants.js';
import type { DriverComponents } from './driver-components.js';
import { NetworkPublication } from './network-publication.js';
import { IpcPublication } from './ipc-publication.js';
import { PublicationImage, type SubscriberPosition } from './publication-image.js';
import { SendChannelEndpoint, type ResponseSetupHandler } from './send-channel-endpoint.js';
import { ReceiveChannelEndpoint, SharedImages, type ImageFactory, type SetupInfo } from './receive-channel-endpoint.js';
import type { Sender } from './sender.js';
import type { Receiver } from './receiver.js';
import { DEFAULT_FLOW_CONTROL_GROUP_TAG, flowControlFor } from './flow-control.js';
import {
  parsePublicationChannel,
  parseSubscriptionChannel,
  addressKey,
  multicastAddressing,
  type ParsedChannel,
  type SubscriptionParams,
  type SocketAddress,
} from './udp-channel.js';

interface PublicationLink {
  readonly registrationId: number;
  readonly clientId: number;
  readonly publication: NetworkPublication | IpcPublication;
}

interface SubscriptionLink {
  readonly registrationId: number;
  readonly clientId: number;
  readonly streamId: number;
  readonly channel: string;
  readonly parsed: ParsedChannel<SubscriptionParams>;
  /** The one session this subscription takes; for a response subscription, set by RSP_SETUP. */
  sessionId: number | undefined;
  /** control-mode=response: the stream interest waits for the server to name the response session. */
  readonly isResponse: boolean;
  /** The subscription counts in its endpoint's stream interest. */
  hasInterest: boolean;
  endpoint: ReceiveChannelEndpoint | null;
  /** `aeron-spy:`: reads this driver's network publications of the channel in place. */
  readonly isSpy: boolean;
  /** `control-mode=manual`: images fed by the destinations the application adds. */
  readonly mds: MultiDestinationSubscription | null;
}

/** The destinations of a multi-destination subscription, each a receive endpoint of its own, sharing images. */
interface MultiDestinationSubscription {
  readonly shared: SharedImages;
  readonly receiverId: bigint;
  /** Bound or binding destinations, by the address a destination channel names. */
  readonly destinations: Map<string, ReceiveChannelEndpoint>;
  /** `tags=<channelTag>,…` of the subscription that made it; undefined when untagged. */
  readonly channelTag: bigint | undefined;
  /** Subscriptions using it: more than one when later subscriptions named its channel tag. */
  users: number;
}

/** A destination being bound for an ADD_RCV_DESTINATION command. */
interface PendingDestination {
  readonly link: SubscriptionLink;
  readonly endpoint: ReceiveChannelEndpoint;
  readonly addressKey: string;
  readonly correlationId: number;
}

/** How often the conductor looks for images whose subscribers have all read to the end of stream. */
const END_OF_STREAM_CHECK_INTERVAL_NS = 5_000_000;

/** An untethered spy left behind, waiting to rejoin its publication. */
interface RestingSpy {
  readonly link: SubscriptionLink;
  readonly publication: NetworkPublication;
  readonly untilNs: number;
}

/**
 * What a spy's channel names: the publication's destination (the unicast endpoint or the
 * multicast group), or for a multi-destination publication its control address.
 */
function spyKeyOf(endpoint: SocketAddress | undefined, control?: SocketAddress): string | undefined {
  if (endpoint !== undefined) return addressKey(endpoint);
  return control === undefined ? undefined : `control=${addressKey(control)}`;
}

/** A connected client: where its responses go and when it was last heard from. */
interface ClientRecord {
  readonly queue: MessageQueue<DriverResponse>;
  /** Set by its first CLIENT_KEEPALIVE: from then on the client is held to clientLivenessTimeoutNs. */
  keepsAlive: boolean;
  /** Time of the conductor cycle that last took a command from the client (or registered it). */
  lastCommandNs: number;
  /** Counters the client allocated (ADD_COUNTER), freed when it closes. */
  readonly counterIds: Set<number>;
}

interface PendingSubscription {
  readonly link: SubscriptionLink;
  readonly correlationId: number;
  readonly endpoint: ReceiveChannelEndpoint;
}

/** A network publication whose endpoint's socket is still binding: the client hears of it once bound (or of the failure). */
interface PendingPublication {
  readonly command: AddPublicationCommand;
  readonly publication: NetworkPublication;
}

/**
 * The driver's brain: takes client commands, creates and links publications, subscriptions,
 * endpoints and images, keeps publisher limits moving, and runs the timed state checks (liveness,
 * linger, drain). Every resource it creates it also frees.
 */
export class DriverConductor implements Agent, ImageFactory, ResponseSetupHandler {
  readonly roleName = 'driver-conductor';
  readonly dutyCycleTracker: DutyCycleTracker | undefined;
  private readonly components: DriverComponents;
  private readonly commands: MessageQueue<DriverCommand>;
  private readonly clients = new Map<number, ClientRecord>();
  private readonly sender: Sender;
  private readonly receiver: Receiver;
  private readonly publicationLinks = new Map<number, PublicationLink>();
  private readonly subscriptionLinks = new Map<number, SubscriptionLink>();
  private networkPublications: NetworkPublication[] = [];
  private ipcPublications: IpcPublication[] = [];
  private images: PublicationImage[] = [];
  private pendingSubscriptions: PendingSubscription[] = [];
  private pendingPublications: PendingPublication[] = [];
  private restingSpies: RestingSpy[] = [];
  private pendingDestinations: PendingDestination[] = [];
  private readonly sendEndpoints = new Map<string, SendChannelEndpoint>();
  /**
   * Response control addresses held by a prototype response publication (a response server or an
   * RPC provider), by endpoint key: the registration id of the holder. Response publications on
   * one control address share its socket, so without this a second server of this driver would
   * bind nothing and silently serve the same address as the first.
   */
  private readonly responseControlHolders = new Map<string, number>();
  private readonly receiveEndpoints = new Map<string, ReceiveChannelEndpoint>();
  private readonly nextCorrelationIdFn: () => number;
  private nextSessionId: number;
  private nextReceiverId: bigint;
  private nextTimerNs = 0;
  private nextEndOfStreamCheckNs = 0;
  /** While above 0, time events come this often instead of every timerIntervalNs ({@link expediteTimeEvents}). */
  private expeditedIntervalNs = 0;
  /** nowNs of the current duty cycle, for the commands it takes. */
  private cycleNowNs = 0;
  private lastClientCheckNs: number | undefined;
  private readonly onCommandBound: (command: DriverCommand) => void;
  private closed = false;

  constructor(options: {
    components: DriverComponents;
    commands: MessageQueue<DriverCommand>;
    sender: Sender;
    receiver: Receiver;
    nextCorrelationId: () => number;
    /** Where a composite runner times the conductor's duty cycles. */
    dutyCycleTracker?: DutyCycleTracker;
  }) {
    this.dutyCycleTracker = options.dutyCycleTracker;
    this.components = options.components;
    this.commands = options.commands;
    this.sender = options.sender;
    this.receiver = options.receiver;
    this.nextCorrelationIdFn = options.nextCorrelationId;
    const prng = this.components.prng;
    this.nextSessionId = prng.nextUint32() | 0;
    // Receiver ids travel as signed int64 (SM, RTTM): keep them in that range so comparisons with the wire hold.
    this.nextReceiverId = BigInt.asIntN(64, (BigInt(prng.nextUint32()) << 32n) | BigInt(prng.nextUint32()));
    this.onCommandBound = (command) => this.onCommand(command);
  }

  registerClient(clientId: number, queue: MessageQueue<DriverResponse>): void {
    this.clients.set(clientId, { queue, keepsAlive: false, lastCommandNs: this.components.clock.nanoTime(), counterIds: new Set() });
  }

  doWork(nowNs: number): number {
    this.cycleNowNs = nowNs;
    let work = this.commands.drain(this.onCommandBound, 32);
    if (this.pendingSubscriptions.length > 0) work += this.checkPendingSubscriptions();
    if (this.pendingPublications.length > 0) work += this.checkPendingPublications();
    if (this.pendingDestinations.length > 0) work += this.checkPendingDestinations();
    const networkPublications = this.networkPublications;
    for (let i = 0; i < networkPublications.length; i++) work += networkPublications[i]!.updatePublisherLimit();
    const ipcPublications = this.ipcPublications;
    for (let i = 0; i < ipcPublications.length; i++) work += ipcPublications[i]!.updatePublisherLimit();
    if (nowNs >= this.nextTimerNs) {
      this.nextTimerNs = nowNs + (this.expeditedIntervalNs > 0 ? this.expeditedIntervalNs : this.components.settings.timerIntervalNs);
      this.onTimeEvent(nowNs);
    }
    if (nowNs >= this.nextEndOfStreamCheckNs && this.images.length > 0) {
      this.nextEndOfStreamCheckNs = nowNs + END_OF_STREAM_CHECK_INTERVAL_NS;
      work += this.checkEndsOfStream(nowNs);
    }
    return work;
  }

  /**
   * Runs the time events (linger, drain and liveness checks) every `intervalNs` from the next duty
   * cycle on, instead of every timerIntervalNs: for a closing Skein, whose publications then leave
   * DRAINING and LINGER as soon as they may rather than on the next of the default 1 s ticks. The
   * deadlines themselves (the linger timeout, end of stream from every receiver) are unchanged.
   */
  expediteTimeEvents(intervalNs: number): void {
    this.expeditedIntervalNs = intervalNs;
    this.nextTimerNs = 0;
  }

  /** Frees every resource of the driver. Idempotent. */
  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const publication of this.networkPublications) this.freeNetworkPublication(publication);
    for (const publication of this.ipcPublications) this.freeIpcPublication(publication);
    for (const image of this.images) this.freeImage(image, 0);
    for (const pending of this.pendingSubscriptions) pending.endpoint.close();
    for (const endpoint of this.sendEndpoints.values()) endpoint.close();
    for (const endpoint of this.receiveEndpoints.values()) endpoint.close();
    this.networkPublications = [];
    this.ipcPublications = [];
    this.images = [];
    this.pendingSubscriptions = [];
    this.sendEndpoints.clear();
    this.receiveEndpoints.clear();
    this.publicationLinks.clear();
    this.subscriptionLinks.clear();
  }

  /**
   * Images that have not yet told their sender, with an end-of-stream status message, that this
   * receiver is leaving (still active, or draining without having sent one), for a graceful close.
   */
  imagesAwaitingEos(): number {
    let count = 0;
    for (const image of this.images) {
      if (image.state === 'ACTIVE' || (image.state === 'DRAINING' && image.eosStatusMessagesSent === 0)) count++;
    }
    return count;
  }

  /** Network publications not yet done: how much each still has to send, for a graceful close. */
  unfinishedPublications(): { channel: string; streamId: number; sessionId: number; state: string; senderPosition: number; unsentBytes: number }[] {
    return this.networkPublications
      .filter((p) => p.state !== 'DONE')
      .map((p) => ({
        channel: p.channel,
        streamId: p.streamId,
        sessionId: p.sessionId,
        state: p.state,
        senderPosition: p.senderPositionValue,
        unsentBytes: Math.max(0, p.producerPosition() - p.senderPositionValue),
      }));
  }

  /** Counts of live resources, for tests and `skein stat`. */
  resourceCounts(): Record<string, number> {
    return {
      networkPublications: this.networkPublications.length,
      ipcPublications: this.ipcPublications.length,
      images: this.images.length,
      publicationLinks: this.publicationLinks.size,
      subscriptionLinks: this.subscriptionLinks.size,
      sendEndpoints: this.sendEndpoints.size,
      receiveEndpoints: this.receiveEndpoints.size,
      clients: this.clients.size,
    };
  }

  /** Clients registered and not yet closed (bounded by the clientsMax option). */
  get clientCount(): number {
    return this.clients.size;
  }

  private onCommand(command: DriverCommand): void {
    const correlationId = 'correlationId' in command ? command.correlationId : 0;
    const client = this.clients.get(command.clientId);
    if (client !== undefined) client.lastCommandNs = this.cycleNowNs;
    try {
      switch (command.type) {
        case 'ADD_PUBLICATION':
          this.onAddPublication(command);
          break;
        case 'ADD_SUBSCRIPTION':
          this.onAddSubscription(command);
          break;
        case 'REMOVE_PUBLICATION':
          this.onRemovePublication(command.registrationId, command.clientId, correlationId);
          break;
        case 'ADD_DESTINATION':
        case 'REMOVE_DESTINATION':
          this.onDestination(command);
          break;
        case 'ADD_RCV_DESTINATION':
        case 'REMOVE_RCV_DESTINATION':
          this.onReceiveDestination(command);
          break;
        case 'REMOVE_SUBSCRIPTION':
          this.onRemoveSubscription(command.registrationId, command.clientId, correlationId);
          break;
        case 'CLIENT_CLOSE':
          this.onClientClose(command.clientId);
          break;
        case 'CLIENT_KEEPALIVE':
          if (client !== undefined) client.keepsAlive = true;
          break;
        case 'ADD_COUNTER':
          this.onAddCounter(command, client);
          break;
        case 'REMOVE_COUNTER':
          this.onRemoveCounter(command.counterId, command.clientId, correlationId, client);
          break;
      }
    } catch (error) {
      const subject =
        'streamId' in command ? { channel: command.channel, streamId: command.streamId, correlationId } : 'channel' in command ? { channel: command.channel, correlationId } : { correlationId };
      const e =
        error instanceof SkeinError
          ? error
          : new SkeinError(ErrorCode.DRIVER_COMMAND_FAILED, `${command.type} failed: ${String((error as Error)?.message ?? error)}`, { ...subject, cause: error });
      if (!(error instanceof SkeinError)) this.components.onError(error);
      const { correlationId: _own, ...known } = e.subject;
      const { correlationId: _command, ...about } = subject;
      this.respond(command.clientId, { type: 'ERROR', clientId: command.clientId, correlationId, code: e.code, message: e.detail, subject: { ...about, ...known } });
    }
  }

  private respond(clientId: number, response: DriverResponse): void {
    const queue = this.clients.get(clientId)?.queue;
    if (queue === undefined) return;
    if (!queue.offer(response)) {
      this.components.onError(new Error(`response queue of client ${clientId} is full; dropped ${response.type}`));
    }
  }

  private allocateSessionId(): number {
    const { reservedSessionIdLow: low, reservedSessionIdHigh: high } = this.components.settings;
    for (;;) {
      const id = this.nextSessionId;
      this.nextSessionId = (this.nextSessionId + 1) | 0;
      if (id < low || id > high) return id;
    }
  }

  /**
   * Fails a creation before it starts when the counters it needs are not free, so nothing is left
   * half made (a socket, a log, some of its counters) at the countersCapacity limit.
   */
  private reserveCounters(count: number, what: string): void {
    const counters = this.components.counters;
    const free = counters.capacity - counters.allocatedCount;
    if (free < count) {
      throw new SkeinError(
        ErrorCode.COUNTERS_FULL,
        `${what} needs ${count} counters but ${free} are free (capacity=${counters.capacity}, the countersCapacity option, allowed 256..1048576)`,
      );
    }
  }

  private position(typeId: number, label: string, registrationId: number, sessionId: number, streamId: number, channel: string): Position {
    const id = this.components.counters.allocate(typeId, label, { registrationId, sessionId, streamId, channel });
    return new Position(this.components.counters, id);
  }

  private onAddPublication(command: AddPublicationCommand): void {
    const parsed = parsePublicationChannel(command.channel);
    const publication = parsed.isIpc ? this.ipcPublicationFor(command, parsed) : this.networkPublicationFor(command, parsed);
    this.publicationLinks.set(command.correlationId, { registrationId: command.correlationId, clientId: command.clientId, publication });
    if (publication instanceof NetworkPublication && publication.endpoint.socket.status !== 'bound') {
      // A socket that cannot bind (its control port taken, say) must fail the add, not leave a
      // publication that takes offers and never sends.
      this.pendingPublications = [...this.pendingPublications, { command, publication }];
      this.checkPendingPublications();
      return;
    }
    this.publicationReady(command, publication);
  }

  private checkPendingPublications(): number {
    let work = 0;
    const still: PendingPublication[] = [];
    for (const pending of this.pendingPublications) {
      const { command, publication } = pending;
      const socket = publication.endpoint.socket;
      if (socket.status === 'binding') {
        still.push(pending);
        continue;
      }
      work++;
      // A client that went away meanwhile released its links, this one with them.
      if (this.publicationLinks.get(command.correlationId)?.publication !== publication) continue;
      if (socket.status === 'bound') {
        this.publicationReady(command, publication);
        continue;
      }
      this.publicationLinks.delete(command.correlationId);
      this.releasePublication(publication);
      this.respond(command.clientId, {
        type: 'ERROR',
        clientId: command.clientId,
        correlationId: command.correlationId,
        code: ErrorCode.TRANSPORT_BIND_FAILED,
        message: `cannot bind ${publication.endpoint.key} for publication: ${socket.error?.message ?? `socket ${socket.status}`}`,
        subject: { channel: command.channel, streamId: command.streamId },
      });
    }
    this.pendingPublications = still;
    return work;
  }

  private publicationReady(command: AddPublicationCommand, publication: NetworkPublication | IpcPublication): void {
    this.respond(command.clientId, {
      type: 'PUBLICATION_READY',
      clientId: command.clientId,
      correlationId: command.correlationId,
      registrationId: command.correlationId,
      channel: command.channel,
      streamId: command.streamId,
      sessionId: publication.sessionId,
      exclusive: command.exclusive,
      logBuffers: publication.logBuffers,
      publisherLimitCounterId: publication.publisherLimit.id,
    });
  }

  private newLog(
    parsed: ParsedChannel<ReturnType<typeof parsePublicationChannel>['params']>,
    registrationId: number,
    sessionId: number,
    streamId: number,
    defaults: { termLength: number; mtu: number },
  ): LogBuffers {
    const p = parsed.params;
    const termLength = p.termLength ?? defaults.termLength;
    const mtu = p.mtu ?? defaults.mtu;
    const logBuffers = LogBuffers.allocate({ termLength, pageSize: this.components.settings.filePageSize });
    const initialTermId = p.initialTermId ?? (this.components.prng.nextUint32() | 0);
    logBuffers.metaData.initialise({
      correlationId: registrationId,
      initialTermId,
      termId: p.termId,
      termOffset: p.termOffset,
      mtuLength: mtu,
      pageSize: this.components.settings.filePageSize,
      sessionId,
      streamId,
      publicationWindowLength: this.termWindowLength(parsed, termLength),
      receiverWindowLength: 0,
      isResponse: p.controlMode === 'response',
    });
    return logBuffers;
  }

  private termWindowLength(parsed: ParsedChannel<ReturnType<typeof parsePublicationChannel>['params']>, termLength: number): number {
    const configured = parsed.params.publicationWindowLength ?? this.components.settings.publicationTermWindowLength;
    return configured > 0 ? Math.min(configured, termLength / 2) : termLength / 2;
  }

  private ipcPublicationFor(command: AddPublicationCommand, parsed: ParsedChannel<ReturnType<typeof parsePublicationChannel>['params']>): IpcPublication {
    if (!command.exclusive && parsed.params.sessionId === undefined) {
      const existing = this.ipcPublications.find((p) => p.streamId === command.streamId && !p.exclusive && p.state === 'ACTIVE');
      if (existing !== undefined) {
        existing.refCount++;
        return existing;
      }
    }
    let ipcSubscribers = 0;
    for (const link of this.subscriptionLinks.values()) if (link.parsed.isIpc && link.streamId === command.streamId) ipcSubscribers++;
    this.reserveCounters(2 + ipcSubscribers, 'an IPC publication');
    const sessionId = parsed.params.sessionId ?? this.allocateSessionId();
    const settings = this.components.settings;
    const logBuffers = this.newLog(parsed, command.correlationId, sessionId, command.streamId, {
      termLength: settings.ipcTermBufferLength,
      mtu: settings.ipcMtuLength,
    });
    const publication = new IpcPublication({
      registrationId: command.correlationId,
      channel: command.channel,
      streamId: command.streamId,
      sessionId,
      exclusive: command.exclusive,
      logBuffers,
      publisherLimit: this.position(CounterTypeId.PUBLISHER_LIMIT, `pub-lmt: ${command.correlationId} ${sessionId} ${command.streamId} ${command.channel}`, command.correlationId, sessionId, command.streamId, command.channel),
      publisherPosition: this.position(CounterTypeId.PUBLISHER_POSITION, `pub-pos: ${command.correlationId} ${sessionId} ${command.streamId} ${command.channel}`, command.correlationId, sessionId, command.streamId, command.channel),
      termWindowLength: this.termWindowLength(parsed, logBuffers.termLength),
      components: this.components,
    });
    this.ipcPublications = [...this.ipcPublications, publication];
    for (const link of this.subscriptionLinks.values()) {
      if (link.parsed.isIpc && link.streamId === command.streamId && (link.sessionId === undefined || link.sessionId === sessionId)) {
        this.linkIpcSubscriber(publication, link);
      }
    }
    return publication;
  }

  private linkIpcSubscriber(publication: IpcPublication, link: SubscriptionLink): void {
    const joinPosition = publication.producerPosition();
    const position = this.subscriberPosition(link, publication, joinPosition);
    publication.subscribers = [...publication.subscribers, { subscriptionRegistrationId: link.registrationId, clientId: link.clientId, position }];
    const imageId = this.nextCorrelationIdFn();
    publication.imageIds.set(link.registrationId, imageId);
    this.announceImage(link, imageId, publication, position, joinPosition, 'aeron:ipc');
  }

  /** A subscription's position counter on a stream (`sub-pos`), set to where it joins. */
  private subscriberPosition(link: SubscriptionLink, stream: { readonly sessionId: number; readonly streamId: number }, joinPosition: number): Position {
    const position = this.position(
      CounterTypeId.SUBSCRIBER_POSITION,
      `sub-pos: ${link.registrationId} ${stream.sessionId} ${stream.streamId} ${link.channel} @${joinPosition}`,
      link.registrationId,
      stream.sessionId,
      stream.streamId,
      link.channel,
    );
    position.set(joinPosition);
    return position;
  }

  /** Tells a subscription's client that an image (a log it reads from `position`) is available. */
  private announceImage(
    link: SubscriptionLink,
    imageId: number,
    stream: { readonly sessionId: number; readonly streamId: number; readonly logBuffers: LogBuffers },
    position: Position,
    joinPosition: number,
    sourceIdentity: string,
  ): void {
    this.respond(link.clientId, {
      type: 'AVAILABLE_IMAGE',
      clientId: link.clientId,
      correlationId: imageId,
      subscriptionRegistrationId: link.registrationId,
      sessionId: stream.sessionId,
      streamId: stream.streamId,
      logBuffers: stream.logBuffers,
      subscriberPositionCounterId: position.id,
      joinPosition,
      sourceIdentity,
    });
  }

  private networkPublicationFor(
    command: AddPublicationCommand,
    parsed: ParsedChannel<ReturnType<typeof parsePublicationChannel>['params']>,
  ): NetworkPublication {
    const p = parsed.params;
    const subject = { channel: command.channel, streamId: command.streamId, correlationId: command.correlationId };
    const isResponse = p.controlMode === 'response';
    let responseImage: PublicationImage | undefined;
    let requestCorrelationId: number | undefined;
    let destination: SocketAddress | null;
    let bind: SocketAddress;
    let key: string;
    let prototypeKey: string | null = null;
    const multicast = isResponse ? undefined : multicastAddressing(p);
    const mdcMode = p.controlMode === 'dynamic' || p.controlMode === 'manual' ? p.controlMode : null;
    if (mdcMode !== null) {
      // Multi-destination cast: the endpoint binds the control address (or an ephemeral port for
      // a manual channel without one) and keeps the destinations.
      destination = null;
      const control = p.control;
      bind = control ?? { host: p.interface ?? '0.0.0.0', port: 0, family: 4 };
      key = control === undefined ? `mdc|${command.channel}` : `mdc|${addressKey(control)}`;
    } else if (multicast !== undefined) {
      // Data to the data group; status messages and NAKs come back to the control group.
      destination = multicast.dataGroup;
      bind = multicast.controlGroup;
      key = `multicast|${addressKey(multicast.dataGroup)}|${multicast.interfaceAddress}`;
    } else if (isResponse) {
      // A response publication binds the control address, shared by all response publications on
      // it, and sends to whichever receiver asks for its SETUP.
      const control = p.control as SocketAddress;
      destination = null;
      bind = control;
      key = `response|${addressKey(control)}`;
      if (p.responseCorrelationId !== 'prototype') {
        responseImage = this.responseImageFor(p.responseCorrelationId as number, subject);
      } else {
        const holder = this.responseControlHolders.get(key);
        if (holder !== undefined) {
          throw new SkeinError(
            ErrorCode.TRANSPORT_BIND_FAILED,
            `response control address ${addressKey(control)} is already held by another response server or RPC provider of this driver (its prototype response publication, registration id ${holder}); each needs an address of its own`,
            subject,
          );
        }
        prototypeKey = key;
      }
    } else {
      destination = p.endpoint as SocketAddress;
      bind = { host: p.interface ?? (destination.family === 6 ? '::' : '0.0.0.0'), port: 0, family: destination.family };
      key = `${addressKey(destination)}|${bind.host}`;
      if (p.responseCorrelationId !== undefined) {
        requestCorrelationId = this.checkResponseSubscription(p.responseCorrelationId, subject);
      }
    }
    let endpoint = this.sendEndpoints.get(key);
    if (!command.exclusive && !isResponse && endpoint !== undefined && p.sessionId === undefined) {
      const existing = this.networkPublications.find(
        (n) =>
          n.endpoint === endpoint &&
          n.streamId === command.streamId &&
          !n.exclusive &&
          n.state === 'ACTIVE' &&
          n.responseCorrelationId === requestCorrelationId,
      );
      if (existing !== undefined) {
        existing.refCount++;
        return existing;
      }
    }
    const sessionId = p.sessionId ?? (responseImage !== undefined ? this.responseSessionIdFor(responseImage, endpoint, command.streamId) : this.allocateSessionId());
    if (endpoint !== undefined) {
      for (const n of this.networkPublications) {
        if (n.endpoint === endpoint && n.streamId === command.streamId && n.sessionId === sessionId && n.state !== 'DONE') {
          throw new SkeinError(ErrorCode.DRIVER_COMMAND_FAILED, `session id ${sessionId} is already in use on this channel and stream`, {
            ...subject,
            sessionId,
          });
        }
      }
    }
    this.reserveCounters(4, 'a network publication');
    const settings = this.components.settings;
    if (endpoint === undefined) {
      const socketMulticast =
        multicast === undefined ? undefined : { groups: [multicast.controlGroup.host], interface: multicast.interfaceAddress, ttl: p.ttl ?? settings.multicastTtl };
      endpoint = new SendChannelEndpoint(key, bind, this.components, this, socketMulticast, mdcMode);
      this.sendEndpoints.set(key, endpoint);
    }
    const logBuffers = this.newLog(parsed, command.correlationId, sessionId, command.streamId, {
      // A prototype response publication only stands for the channel: the smallest log will do.
      termLength: p.responseCorrelationId === 'prototype' ? 64 * 1024 : settings.termBufferLength,
      mtu: settings.mtuLength,
    });
    const label = `${command.correlationId} ${sessionId} ${command.streamId} ${command.channel}`;
    const id = command.correlationId;
    const publication = new NetworkPublication({
      registrationId: command.correlationId,
      channel: command.channel,
      streamId: command.streamId,
      sessionId,
      exclusive: command.exclusive,
      logBuffers,
      endpoint,
      publisherLimit: this.position(CounterTypeId.PUBLISHER_LIMIT, `pub-lmt: ${label}`, id, sessionId, command.streamId, command.channel),
      publisherPosition: this.position(CounterTypeId.PUBLISHER_POSITION, `pub-pos: ${label}`, id, sessionId, command.streamId, command.channel),
      senderPosition: this.position(CounterTypeId.SENDER_POSITION, `snd-pos: ${label}`, id, sessionId, command.streamId, command.channel),
      senderLimit: this.position(CounterTypeId.SENDER_LIMIT, `snd-lmt: ${label}`, id, sessionId, command.streamId, command.channel),
      termWindowLength: this.termWindowLength(parsed, logBuffers.termLength),
      lingerTimeoutNs: p.lingerNs ?? settings.publicationLingerTimeoutNs,
      signalEos: p.eos ?? true,
      components: this.components,
      destination: mdcMode !== null ? 'endpoint' : destination === null ? null : { host: destination.host, port: destination.port },
      ...(requestCorrelationId === undefined ? {} : { responseCorrelationId: requestCorrelationId }),
      ...(responseImage === undefined ? {} : { responseImage }),
      flowControl: flowControlFor(p.fc, multicast !== undefined || mdcMode !== null, {
        receiverTimeoutNs: settings.flowControlReceiverTimeoutNs,
        groupMinSize: settings.flowControlGroupMinSize,
        groupTag: DEFAULT_FLOW_CONTROL_GROUP_TAG,
      }),
      groupSemantics: multicast !== undefined || mdcMode !== null,
      multicast: multicast !== undefined,
      ttl: multicast === undefined ? 0 : (p.ttl ?? settings.multicastTtl),
      spiesSimulateConnection: p.spiesSimulateConnection ?? false,
      ...(destination !== null ? { spyKey: spyKeyOf(destination) } : mdcMode !== null && p.control !== undefined ? { spyKey: spyKeyOf(undefined, p.control) } : {}),
    });
    endpoint.add(publication);
    if (prototypeKey !== null) this.responseControlHolders.set(prototypeKey, publication.registrationId);
    this.sender.add(publication);
    this.networkPublications = [...this.networkPublications, publication];
    for (const link of this.subscriptionLinks.values()) if (link.isSpy && this.spyMatches(link, publication)) this.linkSpy(publication, link);
    responseImage?.announceResponseSession(sessionId);
    return publication;
  }

  /** The request image a response publication answers: it must exist and have asked for a response stream. */
  private responseImageFor(imageCorrelationId: number, subject: { channel: string; streamId: number; correlationId: number }): PublicationImage {
    const image = this.images.find((i) => i.correlationId === imageCorrelationId && i.state === 'ACTIVE');
    if (image === undefined) {
      throw new SkeinError(
        ErrorCode.DRIVER_COMMAND_FAILED,
        `response-correlation-id=${imageCorrelationId} names no live image; it must be the correlation id of a request image`,
        subject,
      );
    }
    if (!image.responseSetupRequested) {
      throw new SkeinError(
        ErrorCode.DRIVER_COMMAND_FAILED,
        `response-correlation-id=${imageCorrelationId} names image session ${image.sessionId} stream ${image.streamId}, whose publisher did not ask for responses (no response-correlation-id on its channel)`,
        { ...subject, sessionId: image.sessionId },
      );
    }
    return image;
  }

  /** A request publication names a response subscription of this driver by its registration id. */
  private checkResponseSubscription(registrationId: number | 'prototype', subject: { channel: string; streamId: number; correlationId: number }): number {
    const link = typeof registrationId === 'number' ? this.subscriptionLinks.get(registrationId) : undefined;
    if (link === undefined || !link.isResponse) {
      throw new SkeinError(
        ErrorCode.DRIVER_COMMAND_FAILED,
        `response-correlation-id=${registrationId} names no response subscription (control-mode=response) of this driver`,
        subject,
      );
    }
    return link.registrationId;
  }

  /**
   * The session id of a response publication: the request image's session id (the client's request
   * publication), moved on past ids already used on the same endpoint and stream or reserved. A
   * restarted server therefore gives a client the same response session as before, so clients that
   * keep the first session id they were told (Aeron's drivers) reconnect too.
   */
  private responseSessionIdFor(image: PublicationImage, endpoint: SendChannelEndpoint | undefined, streamId: number): number {
    const { reservedSessionIdLow: low, reservedSessionIdHigh: high } = this.components.settings;
    let candidate = image.sessionId;
    for (let attempt = 0; attempt < 1 << 16; attempt++, candidate = (candidate + 1) | 0) {
      if (candidate >= low && candidate <= high) continue;
      const taken = this.networkPublications.some(
        (n) => n.endpoint === endpoint && n.streamId === streamId && n.sessionId === candidate && n.state !== 'DONE',
      );
      if (!taken) return candidate;
    }
    return this.allocateSessionId();
  }

  /** Adds or removes a destination of a control-mode=manual publication's channel. */
  private onDestination(command: DestinationCommand): void {
    const link = this.publicationLinks.get(command.registrationId);
    const subject = { channel: command.channel, correlationId: command.correlationId };
    if (link === undefined || link.clientId !== command.clientId) {
      throw new SkeinError(ErrorCode.DRIVER_COMMAND_FAILED, `unknown publication registration id ${command.registrationId}`, subject);
    }
    const publication = link.publication;
    const endpoint = publication instanceof NetworkPublication ? publication.endpoint : undefined;
    if (endpoint === undefined || endpoint.mdcMode !== 'manual') {
      throw new SkeinError(
        ErrorCode.DRIVER_COMMAND_FAILED,
        `destinations are added to control-mode=manual publications; ${publication.channel} is not one`,
        { ...subject, streamId: publication.streamId, sessionId: publication.sessionId },
      );
    }
    const uri = ChannelUri.parse(command.channel);
    const endpointText = uri.media === 'udp' ? uri.get('endpoint') : undefined;
    if (endpointText === undefined) {
      throw new SkeinError(ErrorCode.URI_INVALID, `a destination is a UDP channel with an endpoint, such as aeron:udp?endpoint=127.0.0.1:40456`, subject);
    }
    const address = parseSocketAddress(endpointText, 'endpoint', uri);
    const changed =
      command.type === 'ADD_DESTINATION'
        ? endpoint.addDestination(address.host, address.port, this.components.clock.nanoTime())
        : endpoint.removeDestination(address.host, address.port);
    if (!changed) {
      throw new SkeinError(
        ErrorCode.DRIVER_COMMAND_FAILED,
        command.type === 'ADD_DESTINATION' ? `destination ${addressKey(address)} is there already` : `destination ${addressKey(address)} is not there`,
        { ...subject, streamId: publication.streamId, sessionId: publication.sessionId },
      );
    }
    this.respond(command.clientId, { type: 'OPERATION_SUCCESS', clientId: command.clientId, correlationId: command.correlationId });
  }

  private onRemovePublication(registrationId: number, clientId: number, correlationId: number): void {
    const link = this.publicationLinks.get(registrationId);
    if (link === undefined || link.clientId !== clientId) {
      throw new SkeinError(ErrorCode.DRIVER_COMMAND_FAILED, `unknown publication registration id ${registrationId}`, { correlationId });
    }
    this.publicationLinks.delete(registrationId);
    this.releasePublication(link.publication);
    this.respond(clientId, { type: 'OPERATION_SUCCESS', clientId, correlationId });
  }

  private releasePublication(publication: NetworkPublication | IpcPublication): void {
    publication.refCount--;
    if (publication.refCount > 0) return;
    if (publication instanceof NetworkPublication) {
      this.releaseResponseControl(publication);
      publication.startDraining(this.components.clock.nanoTime());
    } else publication.startDraining();
  }

  private onAddSubscription(command: AddSubscriptionCommand): void {
    const parsed = parseSubscriptionChannel(command.channel);
    const link: SubscriptionLink = {
      registrationId: command.correlationId,
      clientId: command.clientId,
      streamId: command.streamId,
      channel: command.channel,
      parsed,
      sessionId: parsed.params.sessionId,
      isResponse: parsed.params.controlMode === 'response',
      hasInterest: false,
      endpoint: null,
      isSpy: parsed.params.spy,
      mds: parsed.params.controlMode === 'manual' && !parsed.isIpc ? this.multiDestinationFor(parsed.params.tags?.channelTag) : null,
    };
    if (link.mds !== null) {
      // Destinations come with ADD_RCV_DESTINATION; the subscription itself binds nothing. One
      // that names the channel tag of another shares its destinations and images.
      this.subscriptionLinks.set(link.registrationId, link);
      this.respond(command.clientId, { type: 'SUBSCRIPTION_READY', clientId: command.clientId, correlationId: command.correlationId, resolvedChannel: command.channel });
      if (link.mds.users > 1) {
        for (const image of this.images) {
          if (image.state === 'ACTIVE' && this.linkTakesSession(link, image.endpoint, image.streamId, image.sessionId)) this.linkImageSubscriber(image, link);
        }
      }
      return;
    }
    if (link.isSpy) {
      this.subscriptionLinks.set(link.registrationId, link);
      this.respond(command.clientId, { type: 'SUBSCRIPTION_READY', clientId: command.clientId, correlationId: command.correlationId, resolvedChannel: command.channel });
      for (const publication of this.networkPublications) if (this.spyMatches(link, publication)) this.linkSpy(publication, link);
      return;
    }
    if (parsed.isIpc) {
      this.subscriptionLinks.set(link.registrationId, link);
      this.respond(command.clientId, { type: 'SUBSCRIPTION_READY', clientId: command.clientId, correlationId: command.correlationId, resolvedChannel: command.channel });
      for (const publication of this.ipcPublications) {
        if (publication.state === 'ACTIVE' && publication.streamId === command.streamId && (link.sessionId === undefined || link.sessionId === publication.sessionId)) {
          this.linkIpcSubscriber(publication, link);
        }
      }
      return;
    }
    // A response subscription, or a subscriber of a dynamic multi-destination publication, tells
    // the publication's control address where it is (setup requests every second).
    const control = parsed.params.control;
    const multicast = link.isResponse ? undefined : multicastAddressing(parsed.params);
    const bind: SocketAddress =
      parsed.params.endpoint ??
      // A response subscription binds an ephemeral port of its own; the server learns it from our probes.
      { host: parsed.params.interface ?? (control!.family === 6 ? '::' : '0.0.0.0'), port: 0, family: control!.family };
    const key =
      multicast !== undefined
        ? `multicast|${addressKey(bind)}|${multicast.interfaceAddress}`
        : bind.port === 0
          ? `${addressKey(bind)}#${command.correlationId}`
          : addressKey(bind);
    let endpoint = this.receiveEndpoints.get(key);
    if (endpoint !== undefined && link.isResponse) {
      throw new SkeinError(ErrorCode.URI_PARAM_INVALID, `a response subscription needs an endpoint of its own; ${key} is already in use`, {
        channel: command.channel,
        streamId: command.streamId,
        correlationId: command.correlationId,
      });
    }
    if (endpoint === undefined) {
      endpoint = new ReceiveChannelEndpoint(key, bind, this.takeReceiverId(), this.components, this, {
        ...(control === undefined ? {} : { control }),
        ...(multicast === undefined
          ? {}
          : { multicast: { socket: { groups: [multicast.dataGroup.host], interface: multicast.interfaceAddress, ttl: this.components.settings.multicastTtl }, control: multicast.controlGroup } }),
      });
      this.receiveEndpoints.set(key, endpoint);
    }
    this.pendingSubscriptions = [...this.pendingSubscriptions, { link, correlationId: command.correlationId, endpoint }];
    this.checkPendingSubscriptions();
  }

  private checkPendingSubscriptions(): number {
    let work = 0;
    const still: PendingSubscription[] = [];
    for (const pending of this.pendingSubscriptions) {
      const { link, endpoint } = pending;
      const status = endpoint.socket.status;
      if (status === 'binding') {
        still.push(pending);
        continue;
      }
      work++;
      if (status === 'bound') {
        this.completeSubscription(link, endpoint);
      } else {
        if (this.receiveEndpoints.get(endpoint.key) === endpoint && endpoint.streamCount === 0) {
          this.receiveEndpoints.delete(endpoint.key);
          endpoint.close();
        }
        const cause = endpoint.socket.error?.message ?? `socket ${status}`;
        this.respond(link.clientId, {
          type: 'ERROR',
          clientId: link.clientId,
          correlationId: pending.correlationId,
          code: ErrorCode.TRANSPORT_BIND_FAILED,
          message: `cannot bind ${endpoint.key} for subscription: ${cause}`,
          subject: { channel: link.channel, streamId: link.streamId },
        });
      }
    }
    this.pendingSubscriptions = still;
    return work;
  }

  private completeSubscription(link: SubscriptionLink, endpoint: ReceiveChannelEndpoint): void {
    link.endpoint = endpoint;
    if (!link.isResponse) {
      endpoint.addInterest(link.streamId);
      link.hasInterest = true;
    }
    this.subscriptionLinks.set(link.registrationId, link);
    if (endpoint.control !== undefined) endpoint.onTimeEvent(this.components.clock.nanoTime());
    const bound = endpoint.socket;
    const resolved = link.parsed.uri.withParam('endpoint', endpoint.bindAddress.family === 6 ? `[${bound.localAddress}]:${bound.localPort}` : `${bound.localAddress}:${bound.localPort}`);
    this.respond(link.clientId, { type: 'SUBSCRIPTION_READY', clientId: link.clientId, correlationId: link.registrationId, resolvedChannel: resolved.toString() });
    for (const image of endpoint.imagesOf(link.streamId)) {
      if (image.state === 'ACTIVE' && (link.sessionId === undefined || link.sessionId === image.sessionId)) this.linkImageSubscriber(image, link);
    }
  }

  /** Called by a receive endpoint for each SETUP of a stream it has interest in, before any image exists. */
  takesSession(endpoint: ReceiveChannelEndpoint, streamId: number, sessionId: number): boolean {
    for (const link of this.subscriptionLinks.values()) if (this.linkTakesSession(link, endpoint, streamId, sessionId)) return true;
    return false;
  }

  private linkTakesSession(link: SubscriptionLink, endpoint: ReceiveChannelEndpoint, streamId: number, sessionId: number): boolean {
    const mine = link.endpoint === endpoint || (link.mds !== null && link.mds.destinations.get(endpoint.destinationKey ?? '') === endpoint);
    return mine && link.streamId === streamId && (link.sessionId === undefined || link.sessionId === sessionId);
  }

  /** The receiver window of an image whose first subscription is `link`. */
  private imageReceiverWindow(link: SubscriptionLink, termLength: number): number {
    return Math.min(termLength / 2, link.parsed.params.receiverWindowLength ?? this.components.settings.initialWindowLength);
  }

  /** Called by a receive endpoint when the sender of an answered SETUP sent DATA or a heartbeat from the SETUP's source. */
  onCreateImage(endpoint: ReceiveChannelEndpoint, setup: SetupInfo, _nowNs: number): PublicationImage | null {
    const links = [...this.subscriptionLinks.values()].filter((l) => this.linkTakesSession(l, endpoint, setup.streamId, setup.sessionId));
    if (links.length === 0) return null;
    this.reserveCounters(2 + links.length, 'an image');
    const correlationId = this.nextCorrelationIdFn();
    const logBuffers = LogBuffers.allocate({ termLength: setup.termLength, pageSize: this.components.settings.filePageSize });
    logBuffers.metaData.initialise({
      correlationId,
      initialTermId: setup.initialTermId,
      termId: setup.activeTermId,
      termOffset: setup.termOffset,
      mtuLength: setup.mtu,
      pageSize: this.components.settings.filePageSize,
      sessionId: setup.sessionId,
      streamId: setup.streamId,
    });
    const bits = logBuffers.positionBitsToShift;
    const joinPosition = computePosition(setup.activeTermId, setup.termOffset, bits, setup.initialTermId);
    const settings = this.components.settings;
    const label = `${correlationId} ${setup.sessionId} ${setup.streamId} ${links[0]!.channel}`;
    const image = new PublicationImage({
      correlationId,
      sessionId: setup.sessionId,
      streamId: setup.streamId,
      channel: links[0]!.channel,
      joinPosition,
      logBuffers,
      endpoint,
      // Multicast images answer to the control group, which every sender of the channel hears.
      controlHost: endpoint.multicastControl?.host ?? setup.srcAddress,
      controlPort: endpoint.multicastControl?.port ?? setup.srcPort,
      receiverWindowLength: this.imageReceiverWindow(links[0]!, setup.termLength),
      nakDelayNs: links[0]!.parsed.params.nakDelayNs ?? settings.nakUnicastDelayNs,
      hwmPosition: this.position(CounterTypeId.RECEIVER_HWM, `rcv-hwm: ${label}`, correlationId, setup.sessionId, setup.streamId, links[0]!.channel),
      receiverPosition: this.position(CounterTypeId.RECEIVER_POSITION, `rcv-pos: ${label}`, correlationId, setup.sessionId, setup.streamId, links[0]!.channel),
      rttCounter: this.position(CounterTypeId.RECEIVER_RTT, `rcv-rtt-ns: ${label}`, correlationId, setup.sessionId, setup.streamId, links[0]!.channel),
      components: this.components,
      responseSetupRequested: (setup.flags & FrameFlags.SETUP_SEND_RESPONSE_SETUP) !== 0,
      ...(endpoint.multicastControl === undefined ? {} : { nakRandomBackoffNs: settings.nakMulticastMaxBackoffNs }),
      ...(links[0]!.parsed.params.groupTag === undefined ? {} : { groupTag: links[0]!.parsed.params.groupTag }),
      reliable: links[0]!.parsed.params.reliable ?? true,
    });
    this.images = [...this.images, image];
    this.receiver.add(image);
    for (const link of links) this.linkImageSubscriber(image, link);
    return image;
  }

  private linkImageSubscriber(image: PublicationImage, link: SubscriptionLink): void {
    const joinPosition = image.rebuildPositionValue;
    const position = this.subscriberPosition(link, image, joinPosition);
    image.subscribers = [...image.subscribers, { subscriptionRegistrationId: link.registrationId, clientId: link.clientId, position }];
    this.announceImage(link, image.correlationId, image, position, joinPosition, image.sourceIdentity);
  }

  private onRemoveSubscription(registrationId: number, clientId: number, correlationId: number): void {
    const link = this.subscriptionLinks.get(registrationId);
    if (link === undefined || link.clientId !== clientId) {
      throw new SkeinError(ErrorCode.DRIVER_COMMAND_FAILED, `unknown subscription registration id ${registrationId}`, { correlationId });
    }
    this.unlinkSubscription(link);
    this.respond(clientId, { type: 'OPERATION_SUCCESS', clientId, correlationId });
  }

  private unlinkSubscription(link: SubscriptionLink): void {
    this.subscriptionLinks.delete(link.registrationId);
    if (link.mds !== null) {
      const nowNs = this.components.clock.nanoTime();
      const destinations = [...link.mds.destinations.values()];
      for (const image of this.images) {
        if (!destinations.includes(image.endpoint)) continue;
        image.subscribers = this.dropSubscriber(image.subscribers, link.registrationId);
        if (image.subscribers.length === 0) image.startDraining(nowNs);
      }
      // The destinations stay while another subscription shares them through the channel tag.
      link.mds.users--;
      if (link.mds.users > 0) return;
      for (const endpoint of destinations) this.closeDestination(link, endpoint);
      link.mds.destinations.clear();
      return;
    }
    if (link.isSpy) {
      for (const publication of this.networkPublications) this.dropSpy(publication, link.registrationId, false);
      this.restingSpies = this.restingSpies.filter((r) => r.link !== link);
      return;
    }
    if (link.parsed.isIpc) {
      for (const publication of this.ipcPublications) {
        publication.subscribers = this.dropSubscriber(publication.subscribers, link.registrationId);
        publication.imageIds.delete(link.registrationId);
      }
      return;
    }
    const nowNs = this.components.clock.nanoTime();
    for (const image of this.images) {
      if (image.endpoint !== link.endpoint) continue;
      image.subscribers = this.dropSubscriber(image.subscribers, link.registrationId);
      // The last subscriber left: tell the sender now (end-of-stream status messages), not at the next timer check.
      if (image.subscribers.length === 0) image.startDraining(nowNs);
    }
    if (link.hasInterest) {
      link.hasInterest = false;
      link.endpoint?.removeInterest(link.streamId);
    }
  }

  /**
   * An RSP_SETUP reached a request publication: the server created (or re-created) the response
   * publication for it, with session `responseSessionId`. The response subscription named by the
   * publication's response-correlation-id takes that session and asks the server's control address
   * for its SETUP at once.
   *
   * Unlike Aeron's drivers, which keep the first session id for good, the latest RSP_SETUP wins: a
   * restarted server's new response session replaces the old one, so responses resume whether the
   * restart fell inside the image liveness timeout or after it (the old image, if still live, is
   * released from this subscription). RSP_SETUP is only sent while the server's response
   * publication has not connected, so a repeat for the current session re-asks for its SETUP.
   */
  onResponseSetup(publication: NetworkPublication, responseSessionId: number): void {
    const registrationId = publication.responseCorrelationId;
    if (registrationId === undefined) return;
    const link = this.subscriptionLinks.get(registrationId);
    const endpoint = link?.endpoint;
    if (link === undefined || !link.isResponse || endpoint === null || endpoint === undefined) return;
    if (link.sessionId !== responseSessionId) {
      const nowNs = this.components.clock.nanoTime();
      const previous = link.sessionId;
      link.sessionId = responseSessionId;
      if (previous !== undefined) {
        for (const image of endpoint.imagesOf(link.streamId)) {
          if (image.sessionId !== previous || image.state !== 'ACTIVE') continue;
          if (!image.unavailableNotified) {
            this.respond(link.clientId, {
              type: 'UNAVAILABLE_IMAGE',
              clientId: link.clientId,
              correlationId: image.correlationId,
              subscriptionRegistrationId: link.registrationId,
              streamId: image.streamId,
              finalPosition: image.subscribers.find((s) => s.subscriptionRegistrationId === link.registrationId)?.position.get() ?? 0,
            });
          }
          image.subscribers = this.dropSubscriber(image.subscribers, link.registrationId);
          if (image.subscribers.length === 0) image.startDraining(nowNs);
        }
      }
      if (!link.hasInterest) {
        link.hasInterest = true;
        endpoint.addInterest(link.streamId);
      }
      for (const image of endpoint.imagesOf(link.streamId)) {
        if (image.sessionId === responseSessionId && image.state === 'ACTIVE' && !image.subscribers.some((s) => s.subscriptionRegistrationId === link.registrationId)) {
          this.linkImageSubscriber(image, link);
        }
      }
    }
    endpoint.requestSetup(responseSessionId, link.streamId);
  }

  /** A SETUP for the session of a live image came from another stream instance: the old image goes. */
  onReplaceImage(image: PublicationImage, nowNs: number): void {
    if (image.state === 'DONE') return;
    this.freeImage(image, nowNs);
  }

  private dropSubscriber(subscribers: SubscriberPosition[], registrationId: number): SubscriberPosition[] {
    const kept: SubscriberPosition[] = [];
    for (const s of subscribers) {
      if (s.subscriptionRegistrationId === registrationId) s.position.close();
      else kept.push(s);
    }
    return kept;
  }

  private onAddCounter(command: AddCounterCommand, client: ClientRecord | undefined): void {
    if (client === undefined) return;
    const counterId = this.components.counters.allocate(command.typeId, command.label, command.key);
    client.counterIds.add(counterId);
    this.respond(command.clientId, { type: 'COUNTER_READY', clientId: command.clientId, correlationId: command.correlationId, counterId });
  }

  private onRemoveCounter(counterId: number, clientId: number, correlationId: number, client: ClientRecord | undefined): void {
    if (client === undefined) return;
    if (!client.counterIds.delete(counterId)) {
      throw new SkeinError(ErrorCode.ARG_INVALID, `counter ${counterId} is not one of client ${clientId}'s counters`);
    }
    this.components.counters.free(counterId);
    this.respond(clientId, { type: 'OPERATION_SUCCESS', clientId, correlationId });
  }

  private onClientClose(clientId: number): void {
    const client = this.clients.get(clientId);
    if (client !== undefined) for (const counterId of client.counterIds) this.components.counters.free(counterId);
    for (const link of [...this.publicationLinks.values()]) {
      if (link.clientId !== clientId) continue;
      this.publicationLinks.delete(link.registrationId);
      this.releasePublication(link.publication);
    }
    for (const link of [...this.subscriptionLinks.values()]) if (link.clientId === clientId) this.unlinkSubscription(link);
    // A pending endpoint may be shared with other clients' subscriptions; the timer check closes it once unused.
    this.pendingSubscriptions = this.pendingSubscriptions.filter((p) => p.link.clientId !== clientId);
    this.clients.delete(clientId);
  }

  /**
   * Closes every client that keeps alive and has sent no command for clientLivenessTimeoutNs,
   * as if it had closed itself, tells it (CLIENT_TIMEOUT) and counts it. When this check itself
   * last ran more than a timer interval plus half the timeout ago, the driver's own thread
   * stalled and the clients' keepalives may still be on their way: each gets a fresh timeout
   * instead.
   */
  private checkClientLiveness(nowNs: number): void {
    const { clientLivenessTimeoutNs: timeoutNs, timerIntervalNs } = this.components.settings;
    const driverStalled = this.lastClientCheckNs !== undefined && nowNs - this.lastClientCheckNs > timerIntervalNs + timeoutNs / 2;
    this.lastClientCheckNs = nowNs;
    for (const [clientId, client] of this.clients) {
      if (!client.keepsAlive) continue;
      if (driverStalled) {
        client.lastCommandNs = nowNs;
        continue;
      }
      if (nowNs - client.lastCommandNs <= timeoutNs) continue;
      this.components.driverCounters.clientTimeouts.increment();
      this.components.onError(
        new SkeinError(
          ErrorCode.CLOSED,
          `client ${clientId} sent no keepalive within clientLivenessTimeoutNs (${timeoutNs / 1e6} ms); the driver closed it and released its publications and subscriptions`,
          { category: 'warn', timeoutMs: timeoutNs / 1e6, state: 'CLIENT_TIMEOUT' },
        ),
      );
      this.respond(clientId, { type: 'CLIENT_TIMEOUT', clientId });
      this.onClientClose(clientId);
    }
  }

  private onTimeEvent(nowNs: number): void {
    this.checkClientLiveness(nowNs);
    this.checkSpies(nowNs);
    // Dynamic multi-destination channels forget receivers silent as long as a publication would.
    for (const endpoint of this.sendEndpoints.values()) endpoint.checkDestinations(nowNs, this.components.settings.publicationConnectionTimeoutNs);
    for (const publication of this.networkPublications) {
      publication.onTimeEvent(nowNs);
      if (publication.state === 'DONE') this.freeNetworkPublication(publication);
    }
    this.networkPublications = this.networkPublications.filter((p) => p.state !== 'DONE');
    for (const publication of this.ipcPublications) {
      publication.onTimeEvent(nowNs);
      if (publication.state === 'DONE') this.freeIpcPublication(publication);
    }
    this.ipcPublications = this.ipcPublications.filter((p) => p.state !== 'DONE');
    for (const image of this.images) this.checkImage(image, nowNs);
    this.images = this.images.filter((i) => i.state !== 'DONE');
    for (const [key, endpoint] of this.receiveEndpoints) {
      endpoint.onTimeEvent(nowNs);
      if (
        endpoint.streamCount === 0 &&
        !this.images.some((i) => i.endpoint === endpoint) &&
        !this.pendingSubscriptions.some((p) => p.endpoint === endpoint) &&
        !this.hasSubscriptionOn(endpoint)
      ) {
        endpoint.close();
        this.receiveEndpoints.delete(key);
      }
    }
  }

  private spyMatches(link: SubscriptionLink, publication: NetworkPublication): boolean {
    return (
      publication.state === 'ACTIVE' &&
      publication.streamId === link.streamId &&
      (link.sessionId === undefined || link.sessionId === publication.sessionId) &&
      publication.spyKey !== undefined &&
      publication.spyKey === spyKeyOf(link.parsed.params.endpoint, link.parsed.params.control) &&
      !publication.spies.some((s) => s.subscriptionRegistrationId === link.registrationId)
    );
  }

  /** A spy starts reading a publication's log in place, at the sender's position. */
  private linkSpy(publication: NetworkPublication, link: SubscriptionLink): void {
    this.reserveCounters(1, 'a spy');
    const joinPosition = publication.senderPositionValue;
    const position = this.subscriberPosition(link, publication, joinPosition);
    const imageId = this.nextCorrelationIdFn();
    const tethered = link.parsed.params.tether ?? true;
    publication.spies = [
      ...publication.spies,
      { subscriptionRegistrationId: link.registrationId, clientId: link.clientId, position, tethered, imageId, behindSinceNs: null },
    ];
    publication.refreshConnected();
    this.announceImage(link, imageId, publication, position, joinPosition, 'aeron-spy');
  }

  /** Removes a spy from a publication; tells its client the image went when `notify`. */
  private dropSpy(publication: NetworkPublication, registrationId: number, notify: boolean): void {
    const spy = publication.spies.find((s) => s.subscriptionRegistrationId === registrationId);
    if (spy === undefined) return;
    publication.spies = publication.spies.filter((s) => s !== spy);
    publication.refreshConnected();
    const finalPosition = spy.position.get();
    spy.position.close();
    if (!notify) return;
    this.respond(spy.clientId, {
      type: 'UNAVAILABLE_IMAGE',
      clientId: spy.clientId,
      correlationId: spy.imageId,
      subscriptionRegistrationId: registrationId,
      streamId: publication.streamId,
      finalPosition,
    });
  }

  /**
   * Untethered spies do not hold their publication back; one that stays a whole window behind the
   * sender for its window-limit timeout is left behind (its image goes), and rejoins at the
   * sender's position after its resting timeout, as Aeron's untethered subscriptions do.
   */
  private checkSpies(nowNs: number): void {
    const settings = this.components.settings;
    for (const publication of this.networkPublications) {
      for (const spy of publication.spies) {
        if (spy.tethered) continue;
        if (spy.position.get() >= publication.senderPositionValue - publication.termWindowLength) {
          spy.behindSinceNs = null;
          continue;
        }
        spy.behindSinceNs ??= nowNs;
        const link = this.subscriptionLinks.get(spy.subscriptionRegistrationId);
        if (link === undefined) continue;
        const params = link.parsed.params;
        if (nowNs - spy.behindSinceNs < (params.untetheredWindowLimitTimeoutNs ?? settings.untetheredWindowLimitTimeoutNs)) continue;
        this.dropSpy(publication, spy.subscriptionRegistrationId, true);
        const untilNs = nowNs + (params.untetheredRestingTimeoutNs ?? settings.untetheredRestingTimeoutNs);
        this.restingSpies = [...this.restingSpies, { link, publication, untilNs }];
      }
    }
    if (this.restingSpies.length === 0) return;
    const still: RestingSpy[] = [];
    for (const resting of this.restingSpies) {
      if (nowNs < resting.untilNs) still.push(resting);
      else if (this.subscriptionLinks.get(resting.link.registrationId) === resting.link && this.spyMatches(resting.link, resting.publication)) {
        this.linkSpy(resting.publication, resting.link);
      }
    }
    this.restingSpies = still;
  }

  private hasSubscriptionOn(endpoint: ReceiveChannelEndpoint): boolean {
    for (const link of this.subscriptionLinks.values()) {
      if (link.endpoint === endpoint || (link.mds !== null && [...link.mds.destinations.values()].includes(endpoint))) return true;
    }
    return false;
  }

  /**
   * The destinations and images of a control-mode=manual subscription: those of a live one with
   * the same channel tag (`tags=<channelTag>,…`, as a tagged replication's recording subscription
   * and the subscription that follows it share them), else new ones.
   */
  private multiDestinationFor(channelTag: bigint | undefined): MultiDestinationSubscription {
    if (channelTag !== undefined) {
      for (const other of this.subscriptionLinks.values()) {
        if (other.mds !== null && other.mds.channelTag === channelTag && other.mds.users > 0) {
          other.mds.users++;
          return other.mds;
        }
      }
    }
    return { shared: new SharedImages(), receiverId: this.takeReceiverId(), destinations: new Map(), channelTag, users: 1 };
  }

  private takeReceiverId(): bigint {
    const id = this.nextReceiverId;
    this.nextReceiverId = BigInt.asIntN(64, id + 1n);
    return id;
  }

  /**
   * Adds or removes a destination of a multi-destination subscription: a receive endpoint on the
   * address the destination channel names (with its `control=`, it joins a dynamic MDC
   * publication), feeding the subscription's shared images. An added destination is answered once
   * its socket is bound.
   */
  private onReceiveDestination(command: DestinationCommand): void {
    const link = this.subscriptionLinks.get(command.registrationId);
    const subject = { channel: command.channel, correlationId: command.correlationId };
    if (link === undefined || link.clientId !== command.clientId) {
      throw new SkeinError(ErrorCode.DRIVER_COMMAND_FAILED, `unknown subscription registration id ${command.registrationId}`, subject);
    }
    const mds = link.mds;
    if (mds === null) {
      throw new SkeinError(ErrorCode.DRIVER_COMMAND_FAILED, `destinations are added to control-mode=manual subscriptions; ${link.channel} is not one`, {
        ...subject,
        streamId: link.streamId,
      });
    }
    const parsed = parseSubscriptionChannel(command.channel);
    const bind = parsed.params.endpoint;
    if (parsed.isIpc || bind === undefined || parsed.params.controlMode !== undefined) {
      throw new SkeinError(ErrorCode.URI_INVALID, `a destination is a UDP channel with an endpoint (and a control address to join a dynamic MDC publication)`, subject);
    }
    const key = addressKey(bind);
    if (command.type === 'REMOVE_RCV_DESTINATION') {
      const endpoint = mds.destinations.get(key);
      if (endpoint === undefined) throw new SkeinError(ErrorCode.DRIVER_COMMAND_FAILED, `destination ${key} is not there`, { ...subject, streamId: link.streamId });
      mds.destinations.delete(key);
      this.closeDestination(link, endpoint);
      this.respond(command.clientId, { type: 'OPERATION_SUCCESS', clientId: command.clientId, correlationId: command.correlationId });
      return;
    }
    if (mds.destinations.has(key)) throw new SkeinError(ErrorCode.DRIVER_COMMAND_FAILED, `destination ${key} is there already`, { ...subject, streamId: link.streamId });
    const endpointKey = `mds|${link.registrationId}|${key}`;
    const control = parsed.params.control;
    const endpoint = new ReceiveChannelEndpoint(endpointKey, bind, mds.receiverId, this.components, this, { shared: mds.shared, ...(control === undefined ? {} : { control }) });
    endpoint.destinationKey = key;
    mds.destinations.set(key, endpoint);
    this.receiveEndpoints.set(endpointKey, endpoint);
    this.pendingDestinations = [...this.pendingDestinations, { link, endpoint, addressKey: key, correlationId: command.correlationId }];
    this.checkPendingDestinations();
  }

  /** Answers destinations whose socket bound (or failed to). */
  private checkPendingDestinations(): number {
    if (this.pendingDestinations.length === 0) return 0;
    let work = 0;
    const still: PendingDestination[] = [];
    for (const pending of this.pendingDestinations) {
      const { link, endpoint } = pending;
      const status = endpoint.socket.status;
      if (status === 'binding') {
        still.push(pending);
        continue;
      }
      work++;
      if (status === 'bound' && link.mds?.destinations.get(pending.addressKey) === endpoint) {
        endpoint.addInterest(link.streamId);
        if (endpoint.control !== undefined) endpoint.onTimeEvent(this.components.clock.nanoTime());
        this.respond(link.clientId, { type: 'OPERATION_SUCCESS', clientId: link.clientId, correlationId: pending.correlationId });
        continue;
      }
      link.mds?.destinations.delete(pending.addressKey);
      this.receiveEndpoints.delete(endpoint.key);
      endpoint.close();
      this.respond(link.clientId, {
        type: 'ERROR',
        clientId: link.clientId,
        correlationId: pending.correlationId,
        code: ErrorCode.TRANSPORT_BIND_FAILED,
        message: `cannot bind destination ${pending.addressKey}: ${endpoint.socket.error?.message ?? `socket ${status}`}`,
        subject: { channel: link.channel, streamId: link.streamId },
      });
    }
    this.pendingDestinations = still;
    return work;
  }

  /** A destination goes: its socket closes; images it fed live on through the other destinations. */
  private closeDestination(link: SubscriptionLink, endpoint: ReceiveChannelEndpoint): void {
    if (endpoint.socket.status === 'bound') endpoint.removeInterest(link.streamId);
    this.pendingDestinations = this.pendingDestinations.filter((p) => p.endpoint !== endpoint);
    this.receiveEndpoints.delete(endpoint.key);
    endpoint.close();
  }

  /**
   * Images whose every subscriber has read to the end of stream start draining now rather than on
   * the next time event (up to a timer interval, 1 s by default, later): their subscribers are told
   * the image went, and its sender learns from the end-of-stream status messages that it may stop
   * lingering, so a publisher's close ends that much sooner.
   */
  private checkEndsOfStream(nowNs: number): number {
    let started = 0;
    const images = this.images;
    for (let i = 0; i < images.length; i++) {
      const image = images[i]!;
      if (image.state !== 'ACTIVE' || image.subscribers.length === 0 || !image.allSubscribersAtEndOfStream()) continue;
      this.drainImage(image, nowNs);
      started++;
    }
    return started;
  }

  private checkImage(image: PublicationImage, nowNs: number): void {
    if (image.state === 'ACTIVE') {
      if (image.hasTimedOut(nowNs)) {
        this.components.driverCounters.imageLivenessTimeouts.increment();
        this.freeImage(image, nowNs);
      } else if (image.subscribers.length === 0 || image.allSubscribersAtEndOfStream()) {
        this.drainImage(image, nowNs);
      }
    } else if (image.state === 'DRAINING' && image.isDrained(nowNs)) {
      this.freeImage(image, nowNs);
    }
  }

  /** The image is done with (no subscriber left, or all of them at its end of stream): its subscribers are told, and it drains. */
  private drainImage(image: PublicationImage, nowNs: number): void {
    this.notifyImageUnavailable(image);
    image.startDraining(nowNs);
  }

  private notifyImageUnavailable(image: PublicationImage): void {
    if (image.unavailableNotified) return;
    image.unavailableNotified = true;
    for (const s of image.subscribers) {
      this.respond(s.clientId, {
        type: 'UNAVAILABLE_IMAGE',
        clientId: s.clientId,
        correlationId: image.correlationId,
        subscriptionRegistrationId: s.subscriptionRegistrationId,
        streamId: image.streamId,
        finalPosition: s.position.get(),
      });
    }
  }

  private freeImage(image: PublicationImage, nowNs: number): void {
    this.notifyImageUnavailable(image);
    image.state = 'DONE';
    for (const s of image.subscribers) s.position.close();
    image.subscribers = [];
    image.hwmPosition.close();
    image.receiverPosition.close();
    image.rttPosition?.close();
    image.endpoint.removeImage(image, nowNs);
    this.receiver.remove(image);
  }

  /** A prototype response publication closed: its control address may be held by another. */
  private releaseResponseControl(publication: NetworkPublication): void {
    const key = publication.endpoint.key;
    if (this.responseControlHolders.get(key) === publication.registrationId) this.responseControlHolders.delete(key);
  }

  private freeNetworkPublication(publication: NetworkPublication): void {
    publication.state = 'DONE';
    for (const spy of [...publication.spies]) this.dropSpy(publication, spy.subscriptionRegistrationId, true);
    this.restingSpies = this.restingSpies.filter((r) => r.publication !== publication);
    publication.releaseResponseImage();
    this.sender.remove(publication);
    publication.publisherLimit.close();
    publication.publisherPosition.close();
    publication.senderPositionCounter.close();
    publication.senderLimitCounter.close();
    const endpoint = publication.endpoint;
    if (endpoint.remove(publication) && this.sendEndpoints.get(endpoint.key) === endpoint) {
      this.sendEndpoints.delete(endpoint.key);
      endpoint.close();
    }
  }

  private freeIpcPublication(publication: IpcPublication): void {
    publication.state = 'DONE';
    for (const s of publication.subscribers) {
      const imageId = publication.imageIds.get(s.subscriptionRegistrationId);
      if (imageId !== undefined) {
        this.respond(s.clientId, {
          type: 'UNAVAILABLE_IMAGE',
          clientId: s.clientId,
          correlationId: imageId,
          subscriptionRegistrationId: s.subscriptionRegistrationId,
          streamId: publication.streamId,
          finalPosition: s.position.get(),
        });
      }
      s.position.close();
    }
    publication.subscribers = [];
    publication.publisherLimit.close();
    publication.publisherPosition.close();
  }
}

