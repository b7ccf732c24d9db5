import { ErrorCode, SkeinError } from '../util/errors.js';
import type { LogBuffers } from '../logbuffer/log-buffers.js';
import { LogCleaner } from '../logbuffer/log-cleaner.js';
import type { LogMetaData } from '../logbuffer/log-meta-data.js';
import { TermScanner } from '../logbuffer/term-scanner.js';
import {
  computeMaxMessageLength,
  computePosition,
  computeTermIdFromPosition,
  computeTermOffsetFromPosition,
  indexByPosition,
  indexByTermCount,
  computeTermBeginPosition,
} from '../logbuffer/log-buffer-descriptor.js';
import { unblock } from '../logbuffer/term-unblocker.js';
import { FrameFlags, FrameType, SETUP_LENGTH, DATA_HEADER_LENGTH } from '../protocol/frame-constants.js';
import { SetupFlyweight } from '../protocol/setup-flyweight.js';
import { DataHeaderFlyweight } from '../protocol/data-header-flyweight.js';
import type { StatusMessageFlyweight } from '../protocol/status-message-flyweight.js';
import type { NakFlyweight } from '../protocol/nak-flyweight.js';
import { RttMeasurementFlyweight } from '../protocol/rtt-measurement-flyweight.js';
import type { ErrorFlyweight } from '../protocol/error-flyweight.js';
import { RTTM_LENGTH } from '../protocol/frame-constants.js';
import type { Position } from '../agent/counters.js';
import type { DriverComponents } from './driver-components.js';
import type { SendChannelEndpoint } from './send-channel-endpoint.js';
import { RetransmitHandler } from './retransmit-handler.js';
import { InvalidFrameReason } from '../protocol/frame-validator.js';
import { MaxFlowControl, type FlowControl } from './flow-control.js';

export type NetworkPublicationState = 'ACTIVE' | 'DRAINING' | 'LINGER' | 'DONE';

export interface NetworkPublicationInit {
  readonly registrationId: number;
  readonly channel: string;
  readonly streamId: number;
  readonly sessionId: number;
  readonly exclusive: boolean;
  readonly logBuffers: LogBuffers;
  readonly endpoint: SendChannelEndpoint;
  readonly publisherLimit: Position;
  /** Where the publisher has appended to, updated each conductor duty cycle. */
  readonly publisherPosition: Position;
  readonly senderPosition: Position;
  readonly senderLimit: Position;
  readonly termWindowLength: number;
  readonly lingerTimeoutNs: number;
  readonly signalEos: boolean;
  readonly components: DriverComponents;
  /**
   * Where frames go: an address; `null` for a response publication until its receiver asks for a
   * SETUP; `'endpoint'` for a multi-destination channel, whose endpoint keeps the destinations.
   */
  readonly destination: { readonly host: string; readonly port: number } | null | 'endpoint';
  /** A request publication: the registration id of the response subscription it names (SETUP flag SEND_RESPONSE_SETUP). */
  readonly responseCorrelationId?: number;
  /** A response publication: the request image it answers, told when this publication connects. */
  readonly responseImage?: ResponseImage;
  /** How status messages of several receivers set the sender limit. @default max */
  readonly flowControl?: FlowControl;
  /** Multicast or multi-destination: SETUPs carry the GROUP flag and the channel's TTL. @default false */
  readonly groupSemantics?: boolean;
  /** The multicast TTL written into SETUPs. @default 0 */
  readonly ttl?: number;
  /** Sent to a multicast group: answers to receivers go to the group too. @default false */
  readonly multicast?: boolean;
  /** `ssc=true`: spies alone make the publication connected, and the sender keeps up with them. @default false */
  readonly spiesSimulateConnection?: boolean;
  /** What a spy's channel must name to read this publication (its destination); none for a response publication. */
  readonly spyKey?: string;
}

/**
 * A spy subscription (`aeron-spy:`) of this driver reading the publication's log in place. A
 * tethered spy holds the publisher back like a receiver; an untethered one does not, and is
 * left behind (and later rejoined) when it falls a window behind for too long.
 */
export interface SpySubscriber {
  readonly subscriptionRegistrationId: number;
  readonly clientId: number;
  readonly position: Position;
  readonly tethered: boolean;
  /** The image id the spy's client knows this publication by. */
  readonly imageId: number;
  /** When an untethered spy fell a window behind the sender (null while it keeps up). */
  behindSinceNs: number | null;
}

/** The part of a request image a response publication talks to. */
export interface ResponseImage {
  clearResponseSession(responseSessionId: number): void;
}

/** Largest retransmission for one NAK: 16 × the default 128 KiB receiver window (unicast). */
const RETRANSMIT_LENGTH_MAX = 16 * 128 * 1024;

/**
 * A publication sent over UDP: the sender side of one session. Sends SETUP until a receiver
 * answers, then DATA within the flow-control window, heartbeats when idle, retransmits on NAK,
 * and on close drains, signals end of stream and lingers. States ACTIVE → DRAINING → LINGER → DONE.
 */
export class NetworkPublication {
  readonly registrationId: number;
  readonly channel: string;
  readonly streamId: number;
  readonly sessionId: number;
  readonly exclusive: boolean;
  readonly logBuffers: LogBuffers;
  readonly endpoint: SendChannelEndpoint;
  readonly publisherLimit: Position;
  /** Where the publisher has appended to, updated each conductor duty cycle. */
  readonly publisherPosition: Position;
  readonly senderPositionCounter: Position;
  readonly senderLimitCounter: Position;
  readonly initialTermId: number;
  readonly termLength: number;
  readonly positionBitsToShift: number;
  readonly mtu: number;
  readonly termWindowLength: number;
  readonly maxMessageLength: number;

  readonly responseCorrelationId: number | undefined;
  /** True for a response publication (control-mode=response): it learns its destination from its receiver. */
  readonly isResponse: boolean;
  private responseImage: ResponseImage | undefined;
  private destinationHost: string;
  private destinationPort: number;
  private hasDestination: boolean;
  /** Multi-destination cast: every frame goes to each of the endpoint's destinations. */
  private readonly toEndpointDestinations: boolean;

  state: NetworkPublicationState = 'ACTIVE';
  refCount = 1;
  private readonly components: DriverComponents;
  private readonly metaData: LogMetaData;
  private readonly termBuffers: readonly Uint8Array[];
  private readonly scanner = new TermScanner();
  private readonly retransmit: RetransmitHandler;
  private readonly setupBuffer = new Uint8Array(SETUP_LENGTH);
  private readonly setup = new SetupFlyweight();
  private readonly heartbeatBuffer = new Uint8Array(DATA_HEADER_LENGTH);
  private readonly heartbeat = new DataHeaderFlyweight();
  private readonly rttmBuffer = new Uint8Array(RTTM_LENGTH);
  private readonly rttmReply = new RttMeasurementFlyweight();
  private readonly receivers = new Map<bigint, number>();
  readonly flowControl: FlowControl;
  private readonly setupFlags: number;
  private readonly ttl: number;
  private readonly multicast: boolean;
  private readonly spiesSimulateConnection: boolean;
  readonly spyKey: string | undefined;
  /** Spies reading this log (managed by the conductor). */
  spies: SpySubscriber[] = [];
  private readonly lingerTimeoutNs: number;
  private readonly signalEos: boolean;
  private senderPosition: number;
  private senderLimit: number;
  private hasInitialConnection = false;
  /** Data went out since the sender last met its flow-control limit. */
  private trackSenderLimits = false;
  private shouldSendSetup = false;
  private lastSetupNs = -Infinity;
  /**
   * When DATA or a heartbeat last went out. A SETUP does not count, so the first status message
   * is answered by a heartbeat at once, as Aeron's senders do (a receiver that answered with a
   * zero window establishes its image on it).
   */
  private lastSendNs = Number.NEGATIVE_INFINITY;
  /**
   * Idleness before the next heartbeat: publicationHeartbeatTimeoutNs while a receiver may still
   * miss the tail of what was sent (and while draining, and whenever several receivers are
   * tracked: the last status message speaks for one of them only), heartbeatMaxNs once the only
   * receiver's last status message acknowledged everything sent.
   */
  private readonly heartbeatMaxNs: number;
  /** Consumption position of the last status message (not end of stream), whichever receiver sent it. */
  private acknowledgedPosition = -1;
  private endOfStreamPosition = Number.MAX_SAFE_INTEGER;
  private lingerDeadlineNs = 0;
  private receivedEosFromAll = false;
  private lastConsumerPosition = 0;
  private timeOfLastConsumerChangeNs = 0;
  private readonly cleaner: LogCleaner;

  constructor(init: NetworkPublicationInit) {
    this.registrationId = init.registrationId;
    this.channel = init.channel;
    this.streamId = init.streamId;
    this.sessionId = init.sessionId;
    this.exclusive = init.exclusive;
    this.logBuffers = init.logBuffers;
    this.endpoint = init.endpoint;
    this.publisherLimit = init.publisherLimit;
    this.publisherPosition = init.publisherPosition;
    this.senderPositionCounter = init.senderPosition;
    this.senderLimitCounter = init.senderLimit;
    this.termWindowLength = init.termWindowLength;
    this.lingerTimeoutNs = init.lingerTimeoutNs;
    this.signalEos = init.signalEos;
    this.components = init.components;
    const settings = init.components.settings;
    this.heartbeatMaxNs = Math.max(settings.publicationHeartbeatTimeoutNs, Math.min(settings.publicationHeartbeatMaxIntervalNs, settings.imageLivenessTimeoutNs / 8, settings.imageReplaceSilenceNs / 2));
    this.responseCorrelationId = init.responseCorrelationId;
    this.responseImage = init.responseImage;
    this.flowControl = init.flowControl ?? new MaxFlowControl();
    this.setupFlags =
      (init.responseCorrelationId === undefined ? 0 : FrameFlags.SETUP_SEND_RESPONSE_SETUP) | (init.groupSemantics === true ? FrameFlags.SETUP_GROUP : 0);
    this.ttl = init.ttl ?? 0;
    this.multicast = init.multicast ?? false;
    this.spiesSimulateConnection = init.spiesSimulateConnection ?? false;
    this.spyKey = init.spyKey;
    this.isResponse = init.destination === null;
    this.toEndpointDestinations = init.destination === 'endpoint';
    this.hasDestination = init.destination !== null;
    const destination = typeof init.destination === 'object' ? init.destination : null;
    this.destinationHost = destination?.host ?? '';
    this.destinationPort = destination?.port ?? 0;
    this.metaData = init.logBuffers.metaData;
    this.termBuffers = init.logBuffers.termBuffers;
    this.initialTermId = this.metaData.initialTermId;
    this.termLength = init.logBuffers.termLength;
    this.positionBitsToShift = init.logBuffers.positionBitsToShift;
    this.mtu = this.metaData.mtuLength;
    this.maxMessageLength = computeMaxMessageLength(this.termLength);
    this.senderPosition = this.producerPosition();
    this.senderLimit = this.senderPosition;
    this.cleaner = new LogCleaner(this.termBuffers, this.positionBitsToShift, this.senderPosition, 0);
    this.lastConsumerPosition = this.senderPosition;
    this.senderPositionCounter.set(this.senderPosition);
    this.senderLimitCounter.set(this.senderLimit);
    this.publisherLimit.set(this.senderPosition);
    const r = this.components.settings;
    this.retransmit = new RetransmitHandler(r.retransmitUnicastDelayNs, r.retransmitUnicastLingerNs, r.retransmitSlotsMax, this.components.driverCounters.retransmitOverflows);
    this.timeOfLastConsumerChangeNs = this.components.clock.nanoTime();
  }

  /**
   * A receiver is live and the flow control has the receivers it requires; or, with `ssc=true`,
   * a spy reads the log.
   */
  get isConnected(): boolean {
    return (this.receivers.size > 0 && this.flowControl.hasRequiredReceivers()) || (this.spiesSimulateConnection && this.spies.length > 0);
  }

  /** Publishes the connection state to the log's metadata after receivers or spies changed. */
  refreshConnected(): void {
    const connected = this.isConnected;
    if (this.metaData.isConnected !== connected) this.metaData.isConnected = connected;
  }

  /** The position up to which the publisher has appended (the log's tail). */
  producerPosition(): number {
    const meta = this.metaData;
    const index = indexByTermCount(meta.activeTermCount);
    const termOffset = Math.min(meta.rawTailOffset(index), this.termLength);
    return computeTermBeginPosition(meta.rawTailTermId(index), this.positionBitsToShift, this.initialTermId) + termOffset;
  }

  /** Sender duty cycle for this publication; returns bytes sent (work). */
  send(nowNs: number): number {
    if (this.state === 'DONE' || !this.hasDestination) return 0;
    let work = 0;
    if (!this.hasInitialConnection || this.shouldSendSetup) work += this.setupCheck(nowNs);
    work += this.retransmit.process(nowNs, this);
    const bytes = this.state === 'LINGER' ? 0 : this.sendData(nowNs);
    if (bytes === 0) work += this.heartbeatCheck(nowNs);
    return work + bytes;
  }

  private sendData(nowNs: number): number {
    if (this.receivers.size === 0 && this.spiesSimulateConnection && this.spies.length > 0) return this.keepUpWithSpies();
    let position = this.senderPosition;
    const limit = this.senderLimit;
    if (position >= limit) {
      this.onFlowControlLimit();
      return 0;
    }
    let bytesSent = 0;
    const maxDatagrams = this.components.settings.sendBatchDatagramsMax;
    for (let i = 0; i < maxDatagrams && position < limit; i++) {
      const termOffset = computeTermOffsetFromPosition(position, this.positionBitsToShift);
      const termBuffer = this.termBuffers[indexByPosition(position, this.positionBitsToShift)]!;
      const window = Math.min(limit - position, this.mtu);
      const available = this.scanner.scanForAvailability(termBuffer, termOffset, window);
      if (available <= 0) {
        // The next frame is there but longer than what the window has left.
        if (window < this.mtu && this.scanner.scanForAvailability(termBuffer, termOffset, this.mtu) > 0) this.onFlowControlLimit();
        break;
      }
      if (!this.transmit(termBuffer, termOffset, available)) break;
      const advance = available + this.scanner.padding;
      position += advance;
      bytesSent += available;
    }
    if (bytesSent > 0) {
      this.senderPosition = position;
      this.senderPositionCounter.set(position);
      this.lastSendNs = nowNs;
      this.trackSenderLimits = true;
      if (position >= limit) this.onFlowControlLimit();
    }
    return bytesSent;
  }

  /**
   * `ssc=true` with spies and no receiver: nothing goes out, and the sender position follows the
   * fastest spy, so the publisher is held back by the spies alone.
   */
  private keepUpWithSpies(): number {
    let fastest = this.senderPosition;
    for (const spy of this.spies) {
      const p = spy.position.get();
      if (p > fastest) fastest = p;
    }
    if (fastest === this.senderPosition) return 0;
    this.senderPosition = fastest;
    this.senderPositionCounter.set(fastest);
    if (fastest > this.senderLimit) {
      this.senderLimit = fastest;
      this.senderLimitCounter.set(fastest);
    }
    return 1;
  }

  /**
   * The sender stopped at its flow-control limit (the receivers' window) after sending: counted
   * once until it sends again (Sender flow control limits), as Aeron does.
   */
  private onFlowControlLimit(): void {
    if (!this.trackSenderLimits) return;
    this.trackSenderLimits = false;
    this.components.driverCounters.senderFlowControlLimits.increment();
  }

  /**
   * Sends one datagram to the destination, or to every destination of a multi-destination
   * channel. Control frames come from reused buffers: callers hand a copy.
   */
  private transmit(buffer: Uint8Array, offset: number, length: number): boolean {
    if (this.toEndpointDestinations) return this.endpoint.sendToDestinations(buffer, offset, length);
    return this.endpoint.send(buffer, offset, length, this.destinationHost, this.destinationPort);
  }

  private setupCheck(nowNs: number): number {
    if (nowNs - this.lastSetupNs < this.components.settings.publicationSetupTimeoutNs) return 0;
    const position = this.senderPosition;
    const s = this.setup.wrap(this.setupBuffer, 0, SETUP_LENGTH);
    s.frameLength = SETUP_LENGTH;
    s.version = 0;
    s.flags = this.setupFlags;
    s.type = FrameType.SETUP;
    s.termOffset = computeTermOffsetFromPosition(position, this.positionBitsToShift);
    s.sessionId = this.sessionId;
    s.streamId = this.streamId;
    s.initialTermId = this.initialTermId;
    s.activeTermId = computeTermIdFromPosition(position, this.positionBitsToShift, this.initialTermId);
    s.termLength = this.termLength;
    s.mtu = this.mtu;
    s.ttl = this.ttl;
    this.lastSetupNs = nowNs;
    if (this.transmit(this.setupBuffer.slice(0, SETUP_LENGTH), 0, SETUP_LENGTH)) {
      this.components.driverCounters.setupsSent.increment();
      if (this.hasInitialConnection) this.shouldSendSetup = false;
    }
    return 0;
  }

  private heartbeatCheck(nowNs: number): number {
    if (!this.hasInitialConnection) return 0;
    const position = this.senderPosition;
    const acknowledged = this.receivers.size === 1 && this.acknowledgedPosition >= position;
    const intervalNs = this.state === 'ACTIVE' && acknowledged ? this.heartbeatMaxNs : this.components.settings.publicationHeartbeatTimeoutNs;
    if (nowNs - this.lastSendNs < intervalNs) return 0;
    const isEos = this.state !== 'ACTIVE' && position >= this.endOfStreamPosition && this.signalEos;
    const h = this.heartbeat.wrap(this.heartbeatBuffer, 0, DATA_HEADER_LENGTH);
    h.frameLength = 0;
    h.version = 0;
    h.flags = isEos ? FrameFlags.UNFRAGMENTED | FrameFlags.EOS : FrameFlags.UNFRAGMENTED;
    h.type = FrameType.DATA;
    h.termOffset = computeTermOffsetFromPosition(position, this.positionBitsToShift);
    h.sessionId = this.sessionId;
    h.streamId = this.streamId;
    h.termId = computeTermIdFromPosition(position, this.positionBitsToShift, this.initialTermId);
    h.reservedValueLow = 0;
    h.reservedValueHigh = 0;
    if (this.transmit(this.heartbeatBuffer.slice(0, DATA_HEADER_LENGTH), 0, DATA_HEADER_LENGTH)) {
      this.components.driverCounters.heartbeatsSent.increment();
    }
    this.lastSendNs = nowNs;
    return 0;
  }

  /** Applies a status message; returns true when it changed what the sender may do (worth a wake-up). */
  onStatusMessage(sm: StatusMessageFlyweight, srcAddress: string, srcPort: number, nowNs: number): boolean {
    const flags = sm.flags;
    if ((flags & FrameFlags.SM_SEND_SETUP) !== 0) {
      if (this.isResponse) {
        // A response publication sends to whoever asks for its SETUP: the client's response subscription.
        this.destinationHost = srcAddress;
        this.destinationPort = srcPort;
        this.hasDestination = true;
      }
      this.shouldSendSetup = true;
      this.lastSetupNs = -Infinity;
      return true;
    }
    const termOffset = sm.consumptionTermOffset;
    const window = sm.receiverWindow;
    if (termOffset < 0 || termOffset >= this.termLength || (termOffset & 31) !== 0 || window < 0 || window > this.termLength / 2) {
      this.components.driverCounters.invalidFrame(InvalidFrameReason.SM_INVALID);
      return false;
    }
    const position = computePosition(sm.consumptionTermId, termOffset, this.positionBitsToShift, this.initialTermId);
    // No receiver can have consumed what was never sent: one claiming that is malformed.
    if (position - this.senderPosition > this.termLength / 2) {
      this.components.driverCounters.invalidFrame(InvalidFrameReason.SM_INVALID);
      return false;
    }
    const receiverId = sm.receiverId;
    // One far behind is late (a newer one moved the sender on since it was sent): as Aeron, no
    // error. It still says a known receiver is there, but it acknowledges nothing new, so it
    // reaches no flow control, which could take its old position for the receiver's current one.
    // (A receiver's end of stream counts wherever it stood.)
    if ((flags & FrameFlags.SM_EOS) === 0 && this.senderPosition - position > this.termLength / 2) {
      if (this.receivers.has(receiverId)) this.trackReceiver(receiverId, nowNs);
      return false;
    }
    const wasConnected = this.hasInitialConnection && this.isConnected;
    let limit = this.senderLimit;
    if ((flags & FrameFlags.SM_EOS) !== 0) {
      this.receivers.delete(receiverId);
      this.flowControl.onReceiverGone(receiverId);
      if (this.receivers.size === 0) this.receivedEosFromAll = true;
    } else {
      this.acknowledgedPosition = position;
      this.trackReceiver(receiverId, nowNs);
      limit = this.flowControl.onStatusMessage(receiverId, position, window, sm.hasGroupTag ? (sm.groupTag ?? undefined) : undefined, nowNs, limit);
      this.releaseResponseImage();
    }
    this.hasInitialConnection = true;
    const connected = this.isConnected;
    this.refreshConnected();
    if (limit !== this.senderLimit) {
      this.senderLimit = limit;
      this.senderLimitCounter.set(limit);
      return true;
    }
    return wasConnected !== connected;
  }

  /**
   * Records a live receiver. At the receivers bound an unknown receiver is counted, not tracked:
   * its status messages still move flow control, and it is tracked once a slot frees.
   */
  private trackReceiver(receiverId: bigint, nowNs: number): void {
    const receivers = this.receivers;
    if (receivers.size >= this.components.settings.receiversPerPublicationMax && !receivers.has(receiverId)) {
      this.components.driverCounters.receiversRejected.increment();
      return;
    }
    receivers.set(receiverId, nowNs);
  }

  onNak(nak: NakFlyweight, nowNs: number): void {
    const termOffset = nak.termOffset;
    const length = nak.length;
    if (termOffset < 0 || termOffset > this.termLength - 32 || (termOffset & 31) !== 0 || length <= 0 || termOffset + length > this.termLength) {
      this.components.driverCounters.invalidFrame(InvalidFrameReason.NAK_INVALID);
      return;
    }
    this.retransmit.onNak(nak.termId, termOffset, length, nowNs, this);
  }

  onRttm(rttm: RttMeasurementFlyweight, srcAddress: string, srcPort: number): void {
    const reply = this.rttmReply.wrap(this.rttmBuffer, 0, RTTM_LENGTH);
    reply.frameLength = RTTM_LENGTH;
    reply.version = 0;
    reply.flags = 0;
    reply.type = FrameType.RTTM;
    reply.sessionId = this.sessionId;
    reply.streamId = this.streamId;
    reply.echoTimestampNs = rttm.echoTimestampNs;
    reply.receptionDeltaNs = 0n;
    reply.receiverId = rttm.receiverId;
    // Multicast receivers listen on the data group, not on the address they send from.
    const host = this.multicast ? this.destinationHost : srcAddress;
    const port = this.multicast ? this.destinationPort : srcPort;
    if (this.endpoint.sendTo(this.rttmBuffer, 0, RTTM_LENGTH, host, port)) this.components.driverCounters.rttmSent.increment();
  }

  onErrorFrame(err: ErrorFlyweight, _nowNs: number): void {
    this.receivers.delete(err.receiverId);
    this.flowControl.onReceiverGone(err.receiverId);
    if (!this.isConnected) this.metaData.isConnected = false;
    this.components.onError(
      new SkeinError(ErrorCode.DRIVER_COMMAND_FAILED, `receiver rejected the stream (code ${err.errorCode}): ${err.errorMessage}`, {
        channel: this.channel,
        streamId: this.streamId,
        sessionId: this.sessionId,
      }),
    );
  }

  /** Resends a range the receiver reported missing; called by the retransmit handler. */
  resend(termId: number, termOffset: number, length: number): void {
    const position = computePosition(termId, termOffset, this.positionBitsToShift, this.initialTermId);
    const bottom = this.senderPosition - this.termLength / 2 - this.maxMessageLength;
    if (position < bottom || position >= this.senderPosition) return;
    const termBuffer = this.termBuffers[indexByPosition(position, this.positionBitsToShift)]!;
    let remaining = Math.min(length, this.termLength - termOffset, RETRANSMIT_LENGTH_MAX);
    let offset = termOffset;
    const counters = this.components.driverCounters;
    while (remaining > 0) {
      const available = this.scanner.scanForAvailability(termBuffer, offset, Math.min(this.mtu, remaining));
      if (available <= 0) break;
      if (!this.transmit(termBuffer, offset, available)) break;
      counters.retransmitsSent.increment();
      counters.retransmittedBytes.add(available);
      const advance = available + this.scanner.padding;
      offset += advance;
      remaining -= advance;
    }
  }

  /**
   * Conductor work each duty cycle: moves the publisher limit with the sender and zeroes the
   * part of the log that will be written next. Returns work done.
   */
  updatePublisherLimit(): number {
    this.publisherPosition.set(this.producerPosition());
    if (this.state !== 'ACTIVE') return 0;
    const senderPosition = this.senderPosition;
    if (this.isConnected) {
      // Tethered spies hold the publisher back as the sender does.
      let consumer = senderPosition;
      const spies = this.spies;
      for (let i = 0; i < spies.length; i++) {
        const spy = spies[i]!;
        if (!spy.tethered) continue;
        const p = spy.position.get();
        if (p < consumer) consumer = p;
      }
      const proposed = consumer + this.termWindowLength;
      if (proposed > this.publisherLimit.get()) {
        this.cleanBufferTo(consumer - this.termLength);
        this.publisherLimit.set(proposed);
        return 1;
      }
    } else if (this.publisherLimit.get() > senderPosition) {
      this.publisherLimit.set(senderPosition);
      return 1;
    }
    return 0;
  }

  private cleanBufferTo(position: number): void {
    this.cleaner.cleanTo(position);
  }


  /** Conductor timer check: receiver timeouts, unblocking, state transitions. */
  onTimeEvent(nowNs: number): void {
    const settings = this.components.settings;
    for (const [receiverId, lastSmNs] of this.receivers) {
      if (nowNs - lastSmNs > settings.publicationConnectionTimeoutNs) {
        this.receivers.delete(receiverId);
        this.components.driverCounters.publicationConnectionTimeouts.increment();
      }
    }
    const limit = this.flowControl.onIdle(nowNs, this.senderLimit);
    if (limit !== this.senderLimit) {
      this.senderLimit = limit;
      this.senderLimitCounter.set(limit);
    }
    this.refreshConnected();
    switch (this.state) {
      case 'ACTIVE':
        this.checkForBlockedPublisher(nowNs);
        break;
      case 'DRAINING':
        if (this.senderPosition >= this.endOfStreamPosition || !this.isConnected) {
          this.state = 'LINGER';
          this.lingerDeadlineNs = nowNs + this.lingerTimeoutNs;
        } else {
          // A client that died (or closed) between a claim and its commit leaves a frame nobody will publish.
          this.checkForBlockedPublisher(nowNs);
        }
        break;
      case 'LINGER':
        if (nowNs >= this.lingerDeadlineNs || this.receivedEosFromAll || !this.hasInitialConnection) this.state = 'DONE';
        break;
      case 'DONE':
        break;
    }
  }

  private checkForBlockedPublisher(nowNs: number): void {
    const consumer = this.senderPosition;
    if (consumer !== this.lastConsumerPosition) {
      this.lastConsumerPosition = consumer;
      this.timeOfLastConsumerChangeNs = nowNs;
      return;
    }
    if (nowNs - this.timeOfLastConsumerChangeNs < this.components.settings.publicationUnblockTimeoutNs) return;
    const producer = this.producerPosition();
    if (producer <= consumer) return;
    if (unblock(this.termBuffers, this.metaData, consumer, producer)) {
      this.timeOfLastConsumerChangeNs = nowNs;
      this.components.driverCounters.unblockedPublications.increment();
    }
  }

  /** Stops the request image announcing this response publication (it connected or is going away). */
  releaseResponseImage(): void {
    if (this.responseImage === undefined) return;
    this.responseImage.clearResponseSession(this.sessionId);
    this.responseImage = undefined;
  }

  /** Last client reference gone: drain what was written, then signal end of stream. */
  startDraining(nowNs: number): void {
    if (this.state !== 'ACTIVE') return;
    this.releaseResponseImage();
    this.endOfStreamPosition = this.producerPosition();
    this.metaData.endOfStreamPosition = this.endOfStreamPosition;
    this.state = 'DRAINING';
    this.lastSendNs = nowNs - this.components.settings.publicationHeartbeatTimeoutNs;
  }

  get senderPositionValue(): number {
    return this.senderPosition;
  }
}
