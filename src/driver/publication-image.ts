import { fillGap } from '../logbuffer/term-gap-filler.js';
import type { LogBuffers } from '../logbuffer/log-buffers.js';
import { LogCleaner } from '../logbuffer/log-cleaner.js';
import type { LogMetaData } from '../logbuffer/log-meta-data.js';
import { insertPacket } from '../logbuffer/term-rebuilder.js';
import { TermGapScanner } from '../logbuffer/term-gap-scanner.js';
import {
  computePosition,
  computeTermIdFromPosition,
  computeTermOffsetFromPosition,
  indexByPosition,
} from '../logbuffer/log-buffer-descriptor.js';
import { FrameFlags, FrameType, SM_LENGTH, NAK_LENGTH, DATA_HEADER_LENGTH, RSP_SETUP_LENGTH, RTTM_LENGTH } from '../protocol/frame-constants.js';
import { ResponseSetupFlyweight } from '../protocol/response-setup-flyweight.js';
import { RttMeasurementFlyweight } from '../protocol/rtt-measurement-flyweight.js';
import { DataHeaderFlyweight } from '../protocol/data-header-flyweight.js';
import { StatusMessageFlyweight } from '../protocol/status-message-flyweight.js';
import { NakFlyweight } from '../protocol/nak-flyweight.js';
import { InvalidFrameReason } from '../protocol/frame-validator.js';
import type { Position } from '../agent/counters.js';
import type { DriverComponents } from './driver-components.js';
import type { ReceiveChannelEndpoint } from './receive-channel-endpoint.js';

/** Gaps NAKed per duty cycle of one image. */
const GAPS_PER_SCAN_MAX = 16;

export type ImageState = 'ACTIVE' | 'DRAINING' | 'DONE';

export interface SubscriberPosition {
  readonly subscriptionRegistrationId: number;
  readonly clientId: number;
  readonly position: Position;
}

export interface PublicationImageInit {
  readonly correlationId: number;
  readonly sessionId: number;
  readonly streamId: number;
  readonly channel: string;
  readonly joinPosition: number;
  readonly logBuffers: LogBuffers;
  readonly endpoint: ReceiveChannelEndpoint;
  readonly controlHost: string;
  readonly controlPort: number;
  readonly receiverWindowLength: number;
  readonly nakDelayNs: number;
  readonly hwmPosition: Position;
  readonly receiverPosition: Position;
  /** Last measured round-trip time to the sender in ns (0 until measured). */
  readonly rttCounter?: Position;
  readonly components: DriverComponents;
  /** The SETUP carried SEND_RESPONSE_SETUP: a response publication may be created for this image. */
  readonly responseSetupRequested?: boolean;
  /**
   * A multicast image: the first NAK of a gap waits a random extra time up to this, so the
   * receivers of a group that lost the same datagram do not all NAK it at once. @default 0
   */
  readonly nakRandomBackoffNs?: number;
  /** The subscription's receiver group tag (`gtag=`): status messages carry it (44 bytes). */
  readonly groupTag?: bigint;
  /**
   * `reliable=false`: a gap is not NAKed; when its NAK would be due it is filled with padding, so
   * readers skip the lost bytes and the stream goes on (counted in Loss gap fills). @default true
   */
  readonly reliable?: boolean;
}

/**
 * The receiver side of one remote publication (session): rebuilds the stream into its own log from
 * DATA frames in any order, finds gaps and NAKs them, tells the sender how far subscribers have
 * read (status messages) and notices the end of the stream or the sender's silence.
 * States ACTIVE → DRAINING (end-of-stream status messages) → DONE.
 */
export class PublicationImage {
  readonly correlationId: number;
  readonly sessionId: number;
  readonly streamId: number;
  readonly channel: string;
  readonly joinPosition: number;
  readonly logBuffers: LogBuffers;
  readonly endpoint: ReceiveChannelEndpoint;
  readonly controlHost: string;
  readonly controlPort: number;
  readonly sourceIdentity: string;
  readonly initialTermId: number;
  readonly termLength: number;
  readonly positionBitsToShift: number;
  readonly receiverWindowLength: number;
  readonly hwmPosition: Position;
  readonly receiverPosition: Position;

  state: ImageState = 'ACTIVE';
  subscribers: SubscriberPosition[] = [];
  /** Set when the image stopped being available to subscribers (notified once). */
  unavailableNotified = false;
  /** The publisher asked for a response stream (SETUP flag SEND_RESPONSE_SETUP). */
  readonly responseSetupRequested: boolean;
  /**
   * Session id of the response publication created for this image, announced with RSP_SETUP on
   * every status-message interval until that publication connects; null when there is none to announce.
   */
  private responseSessionId: number | null = null;
  private readonly rspSetup = new ResponseSetupFlyweight();
  private readonly rttm = new RttMeasurementFlyweight();
  /** The rcv-rtt-ns counter, when the driver allocated one. */
  readonly rttPosition: Position | undefined;
  private nextRttmNs: number;

  private readonly components: DriverComponents;
  private readonly metaData: LogMetaData;
  private readonly termBuffers: readonly Uint8Array[];
  private readonly header = new DataHeaderFlyweight();
  private readonly gapScanner = new TermGapScanner();
  private readonly controlBuffer = new Uint8Array(64);
  private readonly sm = new StatusMessageFlyweight();
  private readonly nak = new NakFlyweight();
  private readonly nakDelayNs: number;
  private readonly nakRandomBackoffNs: number;
  private readonly groupTag: bigint | undefined;
  private readonly reliable: boolean;
  /** Further ways back to the sender: other destinations of a multi-destination subscription. */
  private extraConnections: { readonly endpoint: ReceiveChannelEndpoint; readonly host: string; readonly port: number; lastFrameNs: number }[] = [];
  /** When a frame last came by the way the image was created (multi-destination subscriptions). */
  private primaryFrameNs: number;
  private readonly nakRetryNs: number;
  private rebuildPosition: number;
  private hwm: number;
  private lastSmPosition: number;
  private lastSmNs = -Infinity;
  /**
   * The status message repeats every statusMessageTimeoutNs while it has news (DATA came since
   * the last, subscribers read, a gap is open, a response session to announce, the end of
   * stream), and every smMaxNs while it would only say the same again.
   */
  private readonly smMaxNs: number;
  private dataSinceSm = false;
  private lastPacketNs: number;
  private endOfStreamPosition = Number.MAX_SAFE_INTEGER;
  /** Gap start position → time of its next NAK. At most the nakGapsMax option entries (see evictNakDeadlines). */
  private readonly nakDeadlines = new Map<number, number>();
  /** Gap keys the latest scan found; they keep their timers when the map is trimmed. */
  private readonly scanKeys = new Float64Array(GAPS_PER_SCAN_MAX);
  private scanKeyCount = 0;
  private drainDeadlineNs = 0;
  /** NAKs sent since the last packet from the sender (naksWithoutPacketMax bounds it). */
  private naksSincePacket = 0;
  private readonly cleaner: LogCleaner;

  constructor(init: PublicationImageInit) {
    this.correlationId = init.correlationId;
    this.sessionId = init.sessionId;
    this.streamId = init.streamId;
    this.channel = init.channel;
    this.joinPosition = init.joinPosition;
    this.logBuffers = init.logBuffers;
    this.endpoint = init.endpoint;
    this.controlHost = init.controlHost;
    this.controlPort = init.controlPort;
    this.sourceIdentity = init.controlHost.includes(':') ? `[${init.controlHost}]:${init.controlPort}` : `${init.controlHost}:${init.controlPort}`;
    this.receiverWindowLength = init.receiverWindowLength;
    this.hwmPosition = init.hwmPosition;
    this.receiverPosition = init.receiverPosition;
    this.responseSetupRequested = init.responseSetupRequested === true;
    this.rttPosition = init.rttCounter;
    this.nextRttmNs = init.components.clock.nanoTime();
    this.components = init.components;
    this.metaData = init.logBuffers.metaData;
    this.termBuffers = init.logBuffers.termBuffers;
    this.initialTermId = this.metaData.initialTermId;
    this.termLength = init.logBuffers.termLength;
    this.positionBitsToShift = init.logBuffers.positionBitsToShift;
    this.nakDelayNs = init.nakDelayNs;
    this.nakRandomBackoffNs = init.nakRandomBackoffNs ?? 0;
    this.groupTag = init.groupTag;
    this.reliable = init.reliable ?? true;
    this.nakRetryNs = Math.max(init.nakDelayNs * init.components.settings.nakUnicastRetryDelayRatio, 1000);
    this.rebuildPosition = init.joinPosition;
    this.hwm = init.joinPosition;
    this.lastSmPosition = init.joinPosition;
    this.cleaner = new LogCleaner(this.termBuffers, this.positionBitsToShift, init.joinPosition, 0);
    this.lastPacketNs = init.components.clock.nanoTime();
    const settings = init.components.settings;
    this.smMaxNs = Math.max(
      settings.statusMessageTimeoutNs,
      Math.min(settings.statusMessageMaxIntervalNs, settings.publicationConnectionTimeoutNs / 8, settings.flowControlReceiverTimeoutNs / 8),
    );
    this.primaryFrameNs = this.lastPacketNs;
    this.metaData.activeTransportCount = 1;
    this.hwmPosition.set(init.joinPosition);
    this.receiverPosition.set(init.joinPosition);
  }

  get isEndOfStream(): boolean {
    return this.endOfStreamPosition !== Number.MAX_SAFE_INTEGER && this.rebuildPosition >= this.endOfStreamPosition;
  }

  get rebuildPositionValue(): number {
    return this.rebuildPosition;
  }

  /**
   * Validates a DATA/PAD datagram completely, then writes it into the log. Nothing of a datagram
   * that fails a check reaches the log. Called from the endpoint's receive path.
   */
  /**
   * A frame of this image came through another destination of a multi-destination subscription:
   * control frames go back that way too while it keeps carrying frames.
   */
  noteConnection(endpoint: ReceiveChannelEndpoint, host: string, port: number, nowNs: number): void {
    if (endpoint === this.endpoint && host === this.controlHost && port === this.controlPort) {
      this.primaryFrameNs = nowNs;
      return;
    }
    const connections = this.extraConnections;
    for (let i = 0; i < connections.length; i++) {
      const c = connections[i]!;
      if (c.endpoint === endpoint && c.host === host && c.port === port) {
        c.lastFrameNs = nowNs;
        return;
      }
    }
    this.extraConnections = [...connections, { endpoint, host, port, lastFrameNs: nowNs }];
  }

  /** Sends the control frame in `controlBuffer` to the sender, by every way it was heard from lately. */
  private sendToSender(length: number): boolean {
    let sent = this.endpoint.sendControl(this.controlBuffer, length, this.controlHost, this.controlPort);
    const connections = this.extraConnections;
    if (connections.length === 0) return sent;
    const nowNs = this.components.clock.nanoTime();
    const livenessNs = this.components.settings.imageLivenessTimeoutNs;
    let active = nowNs - this.primaryFrameNs <= livenessNs ? 1 : 0;
    for (let i = 0; i < connections.length; i++) {
      const c = connections[i]!;
      if (nowNs - c.lastFrameNs > livenessNs) continue;
      active++;
      if (c.endpoint.sendControl(this.controlBuffer, length, c.host, c.port)) sent = true;
    }
    // Aeron's log field: how many ways frames of this image arrive now (replay merge waits for two).
    if (this.metaData.activeTransportCount !== active) this.metaData.activeTransportCount = active;
    return sent;
  }

  insertPacket(data: Uint8Array, length: number, nowNs: number): void {
    if (this.state === 'DONE') return;
    const h = this.header.wrap(data, 0, length);
    const termId = h.termId;
    const termOffset = h.termOffset;
    const counters = this.components.driverCounters;
    if (termOffset < 0 || termOffset >= this.termLength || (termOffset & 31) !== 0) {
      counters.invalidFrame(InvalidFrameReason.TERM_OFFSET_INVALID);
      return;
    }
    if (((termId - this.initialTermId) | 0) < 0) {
      counters.invalidFrame(InvalidFrameReason.TERM_ID_INVALID);
      return;
    }
    const packetPosition = computePosition(termId, termOffset, this.positionBitsToShift, this.initialTermId);
    if (length === DATA_HEADER_LENGTH && h.frameLength === 0) {
      this.onHeartbeat(h.flags, packetPosition, nowNs);
      return;
    }
    const extent = this.validateFrames(data, length, termId, termOffset);
    if (extent < 0) {
      counters.invalidFrame(InvalidFrameReason.FRAMES_INVALID);
      return;
    }
    const proposed = packetPosition + extent;
    // The window holds the bytes sent: a trailing PAD counts with its header only, as senders
    // (Skein's and Aeron's) count it, though its padding reaches on to the end of the term.
    if (packetPosition + length > this.lastSmPosition + this.termLength / 2) {
      counters.flowControlOverRuns.increment();
      counters.invalidFrame(InvalidFrameReason.OUTSIDE_WINDOW);
      return;
    }
    if (packetPosition < this.lastSmPosition) {
      counters.flowControlUnderRuns.increment();
      this.heardFromSender(nowNs);
      return;
    }
    insertPacket(this.termBuffers[indexByPosition(packetPosition, this.positionBitsToShift)]!, termOffset, data, 0, length);
    this.heardFromSender(nowNs);
    this.dataSinceSm = true;
    if (proposed > this.hwm) {
      this.hwm = proposed;
      this.hwmPosition.set(proposed);
    }
  }

  /**
   * Walks the frames of a datagram: each must be DATA or PAD of this session, stream and term,
   * start where the previous one ended and end inside the term; no trailing bytes. Returns the
   * extent the datagram covers in the term (a trailing PAD counts with its padded length) or -1.
   */
  private validateFrames(data: Uint8Array, length: number, termId: number, termOffset: number): number {
    const h = this.header;
    let offset = 0;
    let expectedTermOffset = termOffset;
    while (offset < length) {
      if (length - offset < DATA_HEADER_LENGTH) return -1;
      h.wrap(data, offset, length - offset);
      const frameLength = h.frameLength;
      const type = h.type;
      // No frame is longer than the term; the bound also keeps the int32 alignment below from overflowing.
      if (frameLength < DATA_HEADER_LENGTH || frameLength > this.termLength || h.version !== 0) return -1;
      if (type !== FrameType.DATA && type !== FrameType.PAD) return -1;
      if (h.termOffset !== expectedTermOffset || h.termId !== termId) return -1;
      if (h.sessionId !== this.sessionId || h.streamId !== this.streamId) return -1;
      const aligned = (frameLength + 31) & ~31;
      if (expectedTermOffset + aligned > this.termLength) return -1;
      if (type === FrameType.PAD) {
        if (offset + DATA_HEADER_LENGTH !== length) return -1;
        h.wrap(data, 0, length);
        return expectedTermOffset + aligned - termOffset;
      }
      if (offset + aligned > length) return -1;
      offset += aligned;
      expectedTermOffset += aligned;
    }
    h.wrap(data, 0, length);
    return expectedTermOffset - termOffset;
  }

  private onHeartbeat(flags: number, position: number, nowNs: number): void {
    if (position < this.lastSmPosition - this.termLength) {
      this.components.driverCounters.invalidFrame(InvalidFrameReason.OUTSIDE_WINDOW);
      return;
    }
    this.components.driverCounters.heartbeatsReceived.increment();
    this.heardFromSender(nowNs);
    if (position > this.hwm && position <= this.lastSmPosition + this.termLength / 2) {
      this.hwm = position;
      this.hwmPosition.set(position);
    }
    if ((flags & FrameFlags.EOS) !== 0 && this.endOfStreamPosition === Number.MAX_SAFE_INTEGER) {
      this.endOfStreamPosition = position;
    }
  }

  /** Receiver duty cycle: rebuild and loss detection, NAKs, status messages. Returns work done. */
  doWork(nowNs: number): number {
    if (this.state === 'DONE') return 0;
    let work = this.trackRebuild(nowNs);
    work += this.sendPendingStatusMessage(nowNs);
    if (nowNs >= this.nextRttmNs && this.state === 'ACTIVE') this.measureRtt(nowNs);
    return work;
  }

  /**
   * Sends an RTTM asking the sender for an answer (flag 0x80, our clock as echo timestamp), once
   * every rttMeasurementIntervalNs; the answer comes back through the endpoint to onRttmReply.
   */
  private measureRtt(nowNs: number): void {
    const intervalNs = this.components.settings.rttMeasurementIntervalNs;
    this.nextRttmNs = intervalNs > 0 ? nowNs + intervalNs : Number.POSITIVE_INFINITY;
    if (intervalNs === 0) return;
    this.rttm
      .wrap(this.controlBuffer, 0, RTTM_LENGTH)
      .writeRttm(FrameFlags.RTTM_REPLY, this.sessionId, this.streamId, BigInt(Math.round(nowNs)), 0n, this.endpoint.receiverId);
    if (this.sendToSender(RTTM_LENGTH)) {
      this.components.driverCounters.rttmSent.increment();
    }
  }

  /** The sender answered an RTTM: rtt = now - echo timestamp - the sender's reception delta. */
  onRttmReply(echoTimestampNs: bigint, receptionDeltaNs: bigint, nowNs: number): void {
    const rtt = nowNs - Number(echoTimestampNs) - Number(receptionDeltaNs);
    // An answer to a measurement we did not make (or from before a clock we cannot compare) is ignored.
    if (!(rtt >= 0 && rtt < this.components.settings.imageLivenessTimeoutNs)) return;
    this.rttPosition?.set(rtt);
  }

  private trackRebuild(nowNs: number): number {
    let work = 0;
    for (let pass = 0; pass < 3 && this.rebuildPosition < this.hwm; pass++) {
      const rebuild = this.rebuildPosition;
      const termOffset = computeTermOffsetFromPosition(rebuild, this.positionBitsToShift);
      const termId = computeTermIdFromPosition(rebuild, this.positionBitsToShift, this.initialTermId);
      // A sender never sends past the receiver window, so neither does the scan: a forged frame far
      // ahead (up to half a term) would otherwise cost a slot-by-slot walk of the whole range every cycle.
      const limitOffset = Math.min(this.termLength, termOffset + Math.min(this.hwm - rebuild, this.receiverWindowLength));
      const termBuffer = this.termBuffers[indexByPosition(rebuild, this.positionBitsToShift)]!;
      const scanner = this.gapScanner;
      const newOffset = scanner.scanForGap(termBuffer, termId, termOffset, limitOffset);
      if (newOffset > termOffset) {
        this.rebuildPosition = rebuild + (newOffset - termOffset);
        work++;
      }
      if (scanner.hasGap) {
        work += this.onGaps(termBuffer, termId, rebuild - termOffset, limitOffset, nowNs);
        break;
      }
      if (newOffset < this.termLength) break;
    }
    if (this.nakDeadlines.size > 0) this.pruneNakDeadlines();
    this.receiverPosition.set(this.rebuildPosition);
    if (this.isEndOfStream && this.metaData.endOfStreamPosition !== this.endOfStreamPosition) {
      this.metaData.endOfStreamPosition = this.endOfStreamPosition;
    }
    return work;
  }

  /**
   * NAKs the gaps of the term being rebuilt, the first one found by the scanner and up to
   * GAPS_PER_SCAN_MAX after it, each on its own timer: a new gap waits the NAK delay, then is
   * NAKed again every retry interval until it fills. Several gaps repair in one round trip.
   */
  private onGaps(termBuffer: Uint8Array, termId: number, termBeginPosition: number, limitOffset: number, nowNs: number): number {
    const scanner = this.gapScanner;
    let work = 0;
    this.scanKeyCount = 0;
    for (let i = 0; i < GAPS_PER_SCAN_MAX && scanner.hasGap; i++) {
      const gapOffset = scanner.gapOffset;
      const gapLength = scanner.gapLength;
      const key = termBeginPosition + gapOffset;
      this.scanKeys[i] = key;
      this.scanKeyCount = i + 1;
      const deadline = this.nakDeadlines.get(key);
      if (deadline === undefined) {
        const backoffNs = this.nakRandomBackoffNs === 0 ? 0 : this.components.prng.nextInt(this.nakRandomBackoffNs + 1);
        this.nakDeadlines.set(key, nowNs + this.nakDelayNs + backoffNs);
        if (this.nakDelayNs + backoffNs === 0) work += this.repair(termBuffer, termId, gapOffset, gapLength, key, nowNs);
      } else if (nowNs >= deadline) {
        work += this.repair(termBuffer, termId, gapOffset, gapLength, key, nowNs);
      }
      const next = gapOffset + gapLength;
      if (next >= limitOffset) break;
      scanner.scanForGap(termBuffer, termId, next, limitOffset);
    }
    if (this.nakDeadlines.size > this.components.settings.nakGapsMax) this.evictNakDeadlines();
    return work;
  }

  /**
   * Gaps that move as fragments fill them leave timers behind under new keys; past the nakGapsMax
   * bound, every timer of a gap the latest scan did not find is dropped (and counted). A dropped
   * gap that still exists is found again by a later scan and NAKed after the NAK delay.
   */
  private evictNakDeadlines(): void {
    const keys = this.scanKeys;
    const count = this.scanKeyCount;
    let evicted = 0;
    for (const key of this.nakDeadlines.keys()) {
      let found = false;
      for (let i = 0; i < count && !found; i++) found = keys[i] === key;
      if (!found) {
        this.nakDeadlines.delete(key);
        evicted++;
      }
    }
    this.components.driverCounters.nakGapsEvicted.add(evicted);
  }

  /** A gap is due: NAK it, or on an unreliable stream fill it with padding. */
  private repair(termBuffer: Uint8Array, termId: number, gapOffset: number, gapLength: number, key: number, nowNs: number): number {
    if (this.reliable) return this.sendNak(termId, gapOffset, gapLength, key, nowNs);
    this.nakDeadlines.delete(key);
    if (!fillGap(this.logBuffers.metaData, termBuffer, termId, gapOffset, gapLength)) return 0;
    this.components.driverCounters.lossGapFills.increment();
    return 1;
  }

  private sendNak(termId: number, termOffset: number, length: number, key: number, nowNs: number): number {
    this.nakDeadlines.set(key, nowNs + this.nakRetryNs);
    // A sender that is alive sends data or heartbeats; NAKs into silence wait for the next packet.
    if (this.naksSincePacket >= this.components.settings.naksWithoutPacketMax) {
      this.components.driverCounters.naksHeldBack.increment();
      return 0;
    }
    this.naksSincePacket++;
    const nak = this.nak.wrap(this.controlBuffer, 0, NAK_LENGTH);
    nak.frameLength = NAK_LENGTH;
    nak.version = 0;
    nak.flags = 0;
    nak.type = FrameType.NAK;
    nak.sessionId = this.sessionId;
    nak.streamId = this.streamId;
    nak.termId = termId;
    nak.termOffset = termOffset;
    nak.length = length;
    if (this.sendToSender(NAK_LENGTH)) {
      this.components.driverCounters.naksSent.increment();
    }
    return 1;
  }

  private pruneNakDeadlines(): void {
    const rebuild = this.rebuildPosition;
    for (const key of this.nakDeadlines.keys()) if (key < rebuild) this.nakDeadlines.delete(key);
  }

  /** The slowest subscriber's position (or the rebuild position when nobody subscribes). */
  minSubscriberPosition(): number {
    const subscribers = this.subscribers;
    if (subscribers.length === 0) return this.rebuildPosition;
    let min = Number.MAX_SAFE_INTEGER;
    for (let i = 0; i < subscribers.length; i++) {
      const p = subscribers[i]!.position.get();
      if (p < min) min = p;
    }
    return min;
  }

  private sendPendingStatusMessage(nowNs: number): number {
    const eos = this.state === 'DRAINING';
    const smPosition = eos ? Math.max(this.lastSmPosition, this.minSubscriberPosition()) : this.minSubscriberPosition();
    const threshold = this.receiverWindowLength / 4;
    const news = this.dataSinceSm || eos || smPosition !== this.lastSmPosition || this.hwm > this.rebuildPosition || this.responseSessionId !== null;
    const due = nowNs - this.lastSmNs >= (news ? this.components.settings.statusMessageTimeoutNs : this.smMaxNs);
    if (!due && smPosition < this.lastSmPosition + threshold) return 0;
    this.cleanBufferTo(smPosition - this.termLength);
    const sm = this.sm.wrap(this.controlBuffer, 0, SM_LENGTH);
    sm.frameLength = SM_LENGTH;
    sm.version = 0;
    sm.flags = eos ? FrameFlags.SM_EOS : 0;
    sm.type = FrameType.SM;
    sm.sessionId = this.sessionId;
    sm.streamId = this.streamId;
    sm.consumptionTermId = computeTermIdFromPosition(smPosition, this.positionBitsToShift, this.initialTermId);
    sm.consumptionTermOffset = computeTermOffsetFromPosition(smPosition, this.positionBitsToShift);
    sm.receiverWindow = this.receiverWindowLength;
    sm.receiverId = this.endpoint.receiverId;
    if (this.groupTag !== undefined) sm.groupTag = this.groupTag;
    if (this.sendToSender(sm.frameLength)) {
      this.components.driverCounters.statusMessagesSent.increment();
    }
    if (eos) this.eosStatusMessagesSent++;
    else if (due && this.responseSessionId !== null) this.sendResponseSetup(this.responseSessionId);
    this.dataSinceSm = false;
    this.lastSmPosition = smPosition;
    this.lastSmNs = nowNs;
    return due ? 0 : 1;
  }

  private cleanBufferTo(position: number): void {
    this.cleaner.cleanTo(position);
  }

  /** A response publication with this session id now answers this image: announce it at once. */
  announceResponseSession(responseSessionId: number): void {
    this.responseSessionId = responseSessionId;
    this.lastSmNs = -Infinity;
  }

  /** The response publication connected (or went away): stop announcing it. */
  clearResponseSession(responseSessionId: number): void {
    if (this.responseSessionId === responseSessionId) this.responseSessionId = null;
  }

  private sendResponseSetup(responseSessionId: number): void {
    this.rspSetup.wrap(this.controlBuffer, 0, RSP_SETUP_LENGTH).writeResponseSetup(this.sessionId, this.streamId, responseSessionId);
    if (this.sendToSender(RSP_SETUP_LENGTH)) {
      this.components.driverCounters.responseSetupsSent.increment();
    }
  }


  /** A packet from the sender arrived: it is alive, and may be NAKed again. */
  private heardFromSender(nowNs: number): void {
    this.lastPacketNs = nowNs;
    this.naksSincePacket = 0;
  }

  /** How long the sender has sent nothing for this image. */
  silenceNs(nowNs: number): number {
    return nowNs - this.lastPacketNs;
  }

  /** True when the sender has been silent for longer than the image liveness timeout. */
  hasTimedOut(nowNs: number): boolean {
    return nowNs - this.lastPacketNs > this.components.settings.imageLivenessTimeoutNs;
  }

  /** True when every subscriber has read up to the end of the stream. */
  allSubscribersAtEndOfStream(): boolean {
    if (!this.isEndOfStream) return false;
    // Subscribers read the end of stream from the log: publish it before they are told the image went.
    if (this.metaData.endOfStreamPosition !== this.endOfStreamPosition) this.metaData.endOfStreamPosition = this.endOfStreamPosition;
    return this.minSubscriberPosition() >= this.endOfStreamPosition;
  }

  /** End-of-stream status messages sent since draining began. */
  eosStatusMessagesSent = 0;

  /** Starts sending end-of-stream status messages for a while before the image is removed. */
  startDraining(nowNs: number): void {
    if (this.state !== 'ACTIVE') return;
    this.state = 'DRAINING';
    this.lastSmNs = -Infinity;
    this.drainDeadlineNs = nowNs + 5 * this.components.settings.statusMessageTimeoutNs;
  }

  isDrained(nowNs: number): boolean {
    return this.state === 'DRAINING' && nowNs >= this.drainDeadlineNs;
  }
}
