import type { DatagramSocket, MulticastOptions } from '../env/datagram.js';
import { InvalidFrameReason, validateDatagram, type InvalidFrameReasonCode } from '../protocol/frame-validator.js';
import { FrameFlags, FrameType, SM_LENGTH, RTTM_LENGTH } from '../protocol/frame-constants.js';
import { DataHeaderFlyweight } from '../protocol/data-header-flyweight.js';
import { SetupFlyweight } from '../protocol/setup-flyweight.js';
import { StatusMessageFlyweight } from '../protocol/status-message-flyweight.js';
import { RttMeasurementFlyweight } from '../protocol/rtt-measurement-flyweight.js';
import { SkeinError, ErrorCode, plural } from '../util/errors.js';
import type { DriverComponents } from './driver-components.js';
import type { PublicationImage } from './publication-image.js';
import type { SocketAddress } from './udp-channel.js';
import { PendingImageTable, PutResult, type PendingImage } from './pending-image-table.js';

/** Values of a SETUP frame the conductor needs to create an image. */
export interface SetupInfo {
  readonly sessionId: number;
  readonly streamId: number;
  readonly initialTermId: number;
  readonly activeTermId: number;
  readonly termOffset: number;
  readonly termLength: number;
  readonly mtu: number;
  readonly flags: number;
  readonly srcAddress: string;
  readonly srcPort: number;
}

export interface ImageFactory {
  /** Whether a subscription on the endpoint takes this session (checked for each SETUP, before any image exists). */
  takesSession(endpoint: ReceiveChannelEndpoint, streamId: number, sessionId: number): boolean;
  /** Creates the image of an established session; returns it or null when refused. */
  onCreateImage(endpoint: ReceiveChannelEndpoint, setup: SetupInfo, nowNs: number): PublicationImage | null;
  /**
   * A SETUP names the session of a live image but describes another stream instance (a different
   * initial term id or term length): the publication behind the session restarted. Frees the old
   * image so that the new one can be created.
   */
  onReplaceImage(image: PublicationImage, nowNs: number): void;
}

/**
 * Unestablished images a source (address and port) may hold whose first SETUP is answered at
 * once; beyond them a new session's SETUP is answered when it is repeated (a sender repeats it
 * every 100 ms until answered).
 */
export const PENDING_ANSWERED_AT_ONCE_PER_SOURCE = 16;

/** How often an endpoint with a control address tells that address it is alive (SM/SEND_SETUP for session 0, stream 0). */
export const CONTROL_PROBE_INTERVAL_NS = 1_000_000_000;

const enum SessionKind {
  PENDING_SETUP,
  COOL_DOWN,
}

interface SessionMark {
  kind: SessionKind;
  untilNs: number;
}

/**
 * The stream interest and images several endpoints share: the destinations of one
 * multi-destination subscription (`control-mode=manual`), each a socket of its own, feeding the
 * same images.
 */
export class SharedImages {
  /** @internal */
  readonly streams = new Map<number, StreamInterest>();
}

/** Optional parts of a receive endpoint. */
export interface ReceiveEndpointExtras {
  /** The explicit control address: response channels, subscribers of dynamic MDC publications. */
  readonly control?: SocketAddress;
  /** Multicast: the socket's group membership and the control group images answer to. */
  readonly multicast?: { readonly socket: MulticastOptions; readonly control: SocketAddress };
  /** A destination of a multi-destination subscription: the images it feeds are shared. */
  readonly shared?: SharedImages;
}

interface StreamInterest {
  subscriptions: number;
  readonly images: Map<number, PublicationImage>;
  /** Bounded by the pendingSetupsMax option; see {@link ReceiveChannelEndpoint.markSession}. */
  readonly marks: Map<number, SessionMark>;
  /** No mark expires before this time, so a sweep before it would find nothing. */
  marksExpireNs: number;
}

/**
 * The UDP socket a subscription binds: dispatches DATA, PAD and SETUP to the images of the streams
 * it has interest in, asks unknown sessions for a SETUP (at most once per pending-setup timeout),
 * keeps removed sessions in a cool-down, and sends the images' control frames (SM, NAK, RTTM)
 * back to each sender from this same socket.
 *
 * A SETUP does not create an image. It adds the session to the endpoint's unestablished images
 * (a {@link PendingImageTable}: no log, a short deadline, a bound shared fairly across sources)
 * and is answered with a status message carrying the SETUP's position and a zero window: the
 * sender has a receiver but may send no DATA yet, only heartbeats. The image is created, and the
 * frame handed to it, when a heartbeat (or DATA) of that session arrives from the SETUP's source
 * address and port; its own first status message then opens the window. A flood of SETUPs
 * therefore holds no log and no image slot, and nothing a sender sends can be lost to an
 * unestablished image that was evicted or expired.
 */
export class ReceiveChannelEndpoint {
  readonly key: string;
  readonly bindAddress: SocketAddress;
  readonly socket: DatagramSocket;
  readonly receiverId: bigint;
  private readonly components: DriverComponents;
  private readonly factory: ImageFactory;
  private readonly streams: Map<number, StreamInterest>;
  /** One destination of several feeding shared images: each frame tells its image the way back. */
  private readonly multiDestination: boolean;
  /** A multi-destination subscription's destination: the address its channel named. */
  destinationKey: string | undefined = undefined;
  private readonly data = new DataHeaderFlyweight();
  private readonly setup = new SetupFlyweight();
  private readonly rttm = new RttMeasurementFlyweight();
  private readonly controlBuffer = new Uint8Array(64);
  private readonly sm = new StatusMessageFlyweight();
  private readonly rttmReply = new RttMeasurementFlyweight();
  private imageCount = 0;
  /** Sessions whose SETUP was answered and whose sender has not yet sent DATA or a heartbeat. */
  private readonly pendingImages: PendingImageTable;
  private imageLimitReported = false;
  /** Sum of 3 × term length over the images held, bounded by the imageLogsLengthMax option. */
  private imageLogsLength = 0;
  private closed = false;
  /** The explicit control address (control-mode=response): where probes and setup requests go. */
  readonly control: SocketAddress | undefined;
  private nextProbeNs = 0;

  /** Multicast: where images send status messages, NAKs and setup requests (the control group). */
  readonly multicastControl: SocketAddress | undefined;

  /**
   * `multicast`: the socket binds the data group with SO_REUSEADDR and joins it on the channel's
   * interface; images answer to `multicastControl`, the control group, on the same port.
   */
  constructor(key: string, bind: SocketAddress, receiverId: bigint, components: DriverComponents, factory: ImageFactory, extras: ReceiveEndpointExtras = {}) {
    const { control, multicast, shared } = extras;
    this.key = key;
    this.bindAddress = bind;
    this.control = control;
    this.multicastControl = multicast?.control;
    this.streams = shared?.streams ?? new Map();
    this.multiDestination = shared !== undefined;
    this.receiverId = receiverId;
    this.components = components;
    this.factory = factory;
    this.pendingImages = new PendingImageTable(components.settings.pendingImagesMax);
    const rcvbuf = components.settings.socketRcvbufLength;
    this.socket = components.transport.open({
      family: bind.family,
      bindAddress: bind.host,
      bindPort: bind.port,
      rcvbufLength: rcvbuf === 0 ? undefined : rcvbuf,
      name: `receive ${key}`,
      onSendError: components.onSendError,
      ...(multicast === undefined ? {} : { reuseAddress: true, multicast: multicast.socket }),
    });
    this.socket.onDatagram = (data, length, srcAddress, srcPort) => this.onDatagram(data, length, srcAddress, srcPort);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get streamCount(): number {
    return this.streams.size;
  }

  addInterest(streamId: number): void {
    let interest = this.streams.get(streamId);
    if (interest === undefined) this.streams.set(streamId, (interest = { subscriptions: 0, images: new Map(), marks: new Map(), marksExpireNs: Infinity }));
    interest.subscriptions++;
  }

  /** Drops one subscription's interest; returns the images of the stream when none is left. */
  removeInterest(streamId: number): PublicationImage[] {
    const interest = this.streams.get(streamId);
    if (interest === undefined) return [];
    interest.subscriptions--;
    if (interest.subscriptions > 0) return [];
    this.streams.delete(streamId);
    this.pendingImages.removeStream(streamId);
    const images = [...interest.images.values()];
    this.imageCount -= images.length;
    for (const image of images) this.imageLogsLength -= 3 * image.termLength;
    return images;
  }

  imagesOf(streamId: number): readonly PublicationImage[] {
    const interest = this.streams.get(streamId);
    return interest === undefined ? [] : [...interest.images.values()];
  }

  /** Forgets an image; its session is ignored for the cool-down so late frames do not re-create it. */
  removeImage(image: PublicationImage, nowNs: number): void {
    const interest = this.streams.get(image.streamId);
    if (interest === undefined || interest.images.get(image.sessionId) !== image) return;
    interest.images.delete(image.sessionId);
    this.imageCount--;
    this.imageLogsLength -= 3 * image.termLength;
    this.markSession(interest, image.sessionId, SessionKind.COOL_DOWN, nowNs + this.components.settings.imageCoolDownNs, nowNs);
  }

  /** Unestablished images held (bounded by the pendingImagesMax option). */
  get pendingImageCount(): number {
    return this.pendingImages.size;
  }

  /**
   * Timer work: drops unestablished images past their deadline; for an endpoint with a control
   * address, once bound and every CONTROL_PROBE_INTERVAL_NS after, sends SM/SEND_SETUP for
   * session 0, stream 0 to it, as Aeron's receive endpoints with an explicit control address do.
   */
  onTimeEvent(nowNs: number): void {
    this.expirePendingImages(nowNs);
    if (this.control === undefined || this.closed || this.socket.status !== 'bound' || nowNs < this.nextProbeNs) return;
    this.nextProbeNs = nowNs + CONTROL_PROBE_INTERVAL_NS;
    this.sendSetupElicitation(0, 0, this.control.host, this.control.port);
  }

  /** Asks the control address for a SETUP of (sessionId, streamId) now (response subscriptions). */
  requestSetup(sessionId: number, streamId: number): void {
    const control = this.control;
    if (control === undefined || this.closed) return;
    this.sendSetupElicitation(sessionId, streamId, control.host, control.port);
  }

  /** Sends a control frame from the data socket to the given address. */
  sendControl(buffer: Uint8Array, length: number, host: string, port: number): boolean {
    if (this.socket.status !== 'bound') return false;
    // Control buffers are reused at once; the copy keeps a queued datagram intact.
    const sent = this.socket.send(buffer.slice(0, length), 0, length, host, port);
    if (sent) this.components.driverCounters.bytesSent.add(length);
    else this.components.driverCounters.shortSends.increment();
    return sent;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.onDatagram = null;
    this.socket.close();
  }

  private onDatagram(data: Uint8Array, length: number, srcAddress: string, srcPort: number): void {
    const counters = this.components.driverCounters;
    counters.bytesReceived.add(length);
    counters.framesReceived.increment();
    const type = validateDatagram(data, 0, length);
    if (type < 0) {
      counters.invalidFrame(type as InvalidFrameReasonCode);
      return;
    }
    try {
      const nowNs = this.components.clock.nanoTime();
      if (type === FrameType.DATA || type === FrameType.PAD) {
        const established = this.onData(data, length, srcAddress, srcPort, nowNs);
        // A heartbeat only refreshes liveness; the periodic duty cycle handles it.
        if (!established && length === 32 && type === FrameType.DATA && this.data.wrap(data, 0, length).frameLength === 0) return;
      } else if (type === FrameType.SETUP) this.onSetup(data, length, srcAddress, srcPort, nowNs);
      else if (type === FrameType.RTTM) this.onRttm(data, length, srcAddress, srcPort);
    } catch (error) {
      this.components.onError(error);
    }
    this.components.wake();
  }

  /** Returns true when the datagram established an image. */
  private onData(data: Uint8Array, length: number, srcAddress: string, srcPort: number, nowNs: number): boolean {
    const header = this.data.wrap(data, 0, length);
    const streamId = header.streamId;
    const interest = this.streams.get(streamId);
    if (interest === undefined) return false;
    const sessionId = header.sessionId;
    const image = interest.images.get(sessionId);
    if (image !== undefined) {
      if (this.multiDestination) image.noteConnection(this, srcAddress, srcPort, nowNs);
      image.insertPacket(data, length, nowNs);
      return false;
    }
    const pending = this.pendingImages.get(streamId, sessionId);
    if (pending !== undefined) {
      if (nowNs >= pending.deadlineNs) {
        // Past its deadline: dropped as the timer would, and the session is treated as unknown below.
        this.expirePendingImages(nowNs);
      } else {
        // Only the sender the SETUP came from establishes the session; anyone else's frames are dropped.
        if (pending.srcAddress !== srcAddress || pending.srcPort !== srcPort) return false;
        const established = this.establish(interest, pending, nowNs);
        if (established === null) return false;
        // The frame that established the image is its first: a heartbeat sets its high-water mark, DATA its first bytes.
        established.insertPacket(data, length, nowNs);
        return true;
      }
    }
    if ((header.flags & FrameFlags.EOS) !== 0 && header.frameLength === 0) return false;
    const mark = interest.marks.get(sessionId);
    if (mark !== undefined && nowNs < mark.untilNs) return false;
    if (!this.markSession(interest, sessionId, SessionKind.PENDING_SETUP, nowNs + this.components.settings.pendingSetupTimeoutNs, nowNs)) return false;
    const to = this.multicastControl;
    if (to === undefined) this.sendSetupElicitation(sessionId, streamId, srcAddress, srcPort);
    else this.sendSetupElicitation(sessionId, streamId, to.host, to.port);
    return false;
  }

  /**
   * The sender of an unestablished image answered: creates the image (within the image limits,
   * checked again since the SETUP) and drops the pending entry, whatever the outcome.
   */
  private establish(interest: StreamInterest, pending: PendingImage, nowNs: number): PublicationImage | null {
    try {
      const settings = this.components.settings;
      if (this.imageCount >= settings.maxImagesPerEndpoint || this.imageLogsLength + 3 * pending.termLength > settings.imageLogsLengthMax) {
        this.onImageLimit(pending.streamId, pending.termLength);
        return null;
      }
      const image = this.factory.onCreateImage(this, pending, nowNs);
      if (image === null) return null;
      interest.marks.delete(pending.sessionId);
      interest.images.set(pending.sessionId, image);
      this.imageCount++;
      this.imageLogsLength += 3 * image.termLength;
      return image;
    } finally {
      this.pendingImages.remove(pending);
    }
  }

  private expirePendingImages(nowNs: number): void {
    const expired = this.pendingImages.expire(nowNs);
    if (expired > 0) this.components.driverCounters.pendingImagesExpired.add(expired);
  }

  /**
   * Marks a session as asked for a SETUP or cooling down. The marks of a stream are bounded by
   * the pendingSetupsMax option: when full, expired marks are swept (at most once per expiry, so a
   * flood costs no repeated scans); if none expired, the new mark is refused and counted, and the
   * caller ignores the session (no SETUP elicitation goes out). Returns whether it was marked.
   */
  private markSession(interest: StreamInterest, sessionId: number, kind: SessionKind, untilNs: number, nowNs: number): boolean {
    const marks = interest.marks;
    const limit = this.components.settings.pendingSetupsMax;
    if (marks.size >= limit && !marks.has(sessionId)) {
      if (nowNs >= interest.marksExpireNs) this.expireMarks(interest, nowNs);
      if (marks.size >= limit) {
        this.components.driverCounters.pendingSetupsRejected.increment();
        return false;
      }
    }
    marks.set(sessionId, { kind, untilNs });
    if (untilNs < interest.marksExpireNs) interest.marksExpireNs = untilNs;
    return true;
  }

  private expireMarks(interest: StreamInterest, nowNs: number): void {
    let earliestNs = Infinity;
    for (const [sessionId, mark] of interest.marks) {
      if (nowNs >= mark.untilNs) interest.marks.delete(sessionId);
      else if (mark.untilNs < earliestNs) earliestNs = mark.untilNs;
    }
    interest.marksExpireNs = earliestNs;
  }

  private onSetup(data: Uint8Array, length: number, srcAddress: string, srcPort: number, nowNs: number): void {
    const s = this.setup.wrap(data, 0, length);
    this.components.driverCounters.setupsReceived.increment();
    const interest = this.streams.get(s.streamId);
    if (interest === undefined) return;
    const sessionId = s.sessionId;
    const termLength = s.termLength;
    const termOffset = s.termOffset;
    const mtu = s.mtu;
    const validTerm = termLength >= 65536 && termLength <= 1 << 30 && (termLength & (termLength - 1)) === 0;
    // The active term must not lie before the initial one: a log cannot start at a negative term count.
    const validTermId = ((s.activeTermId - s.initialTermId) | 0) >= 0;
    // An MTU of 32 would carry no payload (and the log metadata requires more).
    if (!validTerm || !validTermId || termOffset < 0 || termOffset >= termLength || (termOffset & 31) !== 0 || mtu <= 32 || mtu > 65504 || (mtu & 31) !== 0) {
      this.components.driverCounters.invalidFrame(InvalidFrameReason.SETUP_INVALID);
      return;
    }
    // A known session: the same stream instance repeats its SETUP; another one replaces the image.
    const existing = interest.images.get(sessionId);
    if (existing !== undefined) {
      if (existing.initialTermId === s.initialTermId && existing.termLength === s.termLength) {
        // A multi-destination image heard of another way (a replay merge's live stream, say):
        // its status messages now go that way too, so that sender starts sending here.
        if (this.multiDestination) existing.noteConnection(this, srcAddress, srcPort, nowNs);
        return;
      }
      // Another instance of the session: replace the image only once its own sender has fallen silent.
      if (existing.silenceNs(nowNs) < this.components.settings.imageReplaceSilenceNs) return;
      this.factory.onReplaceImage(existing, nowNs);
      if (interest.images.get(sessionId) === existing) return;
      interest.marks.delete(sessionId);
    }
    const mark = interest.marks.get(sessionId);
    if (mark !== undefined && mark.kind === SessionKind.COOL_DOWN && nowNs < mark.untilNs) return;
    const settings = this.components.settings;
    const streamId = s.streamId;
    this.expirePendingImages(nowNs);
    // A sender is told to start only when its image could be made: the image limits are checked
    // now (and again when the image is established).
    if (this.imageCount >= settings.maxImagesPerEndpoint || this.imageLogsLength + 3 * termLength > settings.imageLogsLengthMax) {
      this.onImageLimit(streamId, termLength);
      return;
    }
    if (!this.factory.takesSession(this, streamId, sessionId)) return;
    const activeTermId = s.activeTermId;
    const result = this.pendingImages.put(s, srcAddress, srcPort, nowNs + settings.pendingImageTimeoutNs);
    if (result === PutResult.ADDED_AFTER_EVICTION) this.components.driverCounters.pendingImagesEvicted.increment();
    // A sender repeats an unanswered SETUP every 100 ms. The first SETUP of a new session is answered
    // at once unless its source already holds many unestablished images (a flood of fresh sessions
    // from one socket then costs no status message each); a repeat, or a SETUP this endpoint asked
    // for, always is.
    if (
      result === PutResult.REFRESHED ||
      this.pendingImages.countFrom(srcAddress, srcPort) <= PENDING_ANSWERED_AT_ONCE_PER_SOURCE ||
      (mark !== undefined && mark.kind === SessionKind.PENDING_SETUP && nowNs < mark.untilNs)
    ) {
      // Multicast senders hear status messages on the control group, not where they send from.
      const to = this.multicastControl;
      this.sendPendingStatusMessage(sessionId, streamId, activeTermId, termOffset, to?.host ?? srcAddress, to?.port ?? srcPort);
    }
  }

  /** Counts a SETUP refused at the image bound; reports the limit once per endpoint (no error object per SETUP). */
  private onImageLimit(streamId: number, termLength: number): void {
    this.components.driverCounters.imagesRejected.increment();
    if (this.imageLimitReported) return;
    this.imageLimitReported = true;
    const settings = this.components.settings;
    const which =
      this.imageCount >= settings.maxImagesPerEndpoint
        ? `holds ${plural(this.imageCount, 'image', 'images')}, the maxImagesPerEndpoint limit`
        : `holds images with ${this.imageLogsLength} bytes of terms; one of term length ${termLength} would pass the imageLogsLengthMax limit of ${settings.imageLogsLengthMax}`;
    this.components.onError(
      new SkeinError(ErrorCode.LIMIT_REACHED, `receive endpoint ${this.key} ${which}; further SETUPs are ignored and counted`, {
        streamId,
        category: 'warn',
      }),
    );
  }

  private onRttm(data: Uint8Array, length: number, srcAddress: string, srcPort: number): void {
    const r = this.rttm.wrap(data, 0, length);
    this.components.driverCounters.rttmReceived.increment();
    const receiverId = r.receiverId;
    if (receiverId !== 0n && receiverId !== this.receiverId) return;
    if ((r.flags & FrameFlags.RTTM_REPLY) === 0) {
      // The sender's answer to an image's measurement.
      this.streams.get(r.streamId)?.images.get(r.sessionId)?.onRttmReply(r.echoTimestampNs, r.receptionDeltaNs, this.components.clock.nanoTime());
      return;
    }
    const reply = this.rttmReply.wrap(this.controlBuffer, 0, RTTM_LENGTH);
    reply.frameLength = RTTM_LENGTH;
    reply.version = 0;
    reply.flags = 0;
    reply.type = FrameType.RTTM;
    reply.sessionId = r.sessionId;
    reply.streamId = r.streamId;
    reply.echoTimestampNs = r.echoTimestampNs;
    reply.receptionDeltaNs = 0n;
    reply.receiverId = this.receiverId;
    // Multicast senders listen on the control group, not on the address they send from.
    const to = this.multicastControl;
    const sent = to === undefined ? this.sendControl(this.controlBuffer, RTTM_LENGTH, srcAddress, srcPort) : this.sendControl(this.controlBuffer, RTTM_LENGTH, to.host, to.port);
    if (sent) this.components.driverCounters.rttmSent.increment();
  }

  /**
   * Answers the SETUP of an unestablished image: the SETUP's position and a zero window. The
   * sender counts this receiver as connected and sends heartbeats (Aeron's at once, Skein's after
   * 100 ms without sending), but no DATA until the image's own status message opens the window.
   */
  private sendPendingStatusMessage(sessionId: number, streamId: number, termId: number, termOffset: number, host: string, port: number): void {
    const sm = this.sm.wrap(this.controlBuffer, 0, SM_LENGTH);
    sm.frameLength = SM_LENGTH;
    sm.version = 0;
    sm.flags = 0;
    sm.type = FrameType.SM;
    sm.sessionId = sessionId;
    sm.streamId = streamId;
    sm.consumptionTermId = termId;
    sm.consumptionTermOffset = termOffset;
    sm.receiverWindow = 0;
    sm.receiverId = this.receiverId;
    if (this.sendControl(this.controlBuffer, SM_LENGTH, host, port)) this.components.driverCounters.statusMessagesSent.increment();
  }

  private sendSetupElicitation(sessionId: number, streamId: number, host: string, port: number): void {
    const sm = this.sm.wrap(this.controlBuffer, 0, SM_LENGTH);
    sm.frameLength = SM_LENGTH;
    sm.version = 0;
    sm.flags = FrameFlags.SM_SEND_SETUP;
    sm.type = FrameType.SM;
    sm.sessionId = sessionId;
    sm.streamId = streamId;
    sm.consumptionTermId = 0;
    sm.consumptionTermOffset = 0;
    sm.receiverWindow = 0;
    sm.receiverId = this.receiverId;
    if (this.sendControl(this.controlBuffer, SM_LENGTH, host, port)) this.components.driverCounters.statusMessagesSent.increment();
  }
}
