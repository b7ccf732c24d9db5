import type { DatagramSocket } from '../env/datagram.js';
import { validateDatagram } from '../protocol/frame-validator.js';
import { FrameFlags, FrameType, SM_LENGTH, RTTM_LENGTH } from '../protocol/frame-constants.js';
import { DataHeaderFlyweight } from '../protocol/data-header-flyweight.js';
import { SetupFlyweight } from '../protocol/setup-flyweight.js';
import { StatusMessageFlyweight } from '../protocol/status-message-flyweight.js';
import { RttMeasurementFlyweight } from '../protocol/rtt-measurement-flyweight.js';
import type { DriverComponents } from './driver-components.js';
import type { PublicationImage } from './publication-image.js';
import type { SocketAddress } from './udp-channel.js';

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
  /** Creates an image for a SETUP on an endpoint with interest; returns it or null when refused. */
  onCreateImage(endpoint: ReceiveChannelEndpoint, setup: SetupInfo, nowNs: number): PublicationImage | null;
}

const enum SessionKind {
  PENDING_SETUP,
  COOL_DOWN,
}

interface SessionMark {
  kind: SessionKind;
  untilNs: number;
}

interface StreamInterest {
  subscriptions: number;
  readonly images: Map<number, PublicationImage>;
  readonly marks: Map<number, SessionMark>;
}

/**
 * The UDP socket a subscription binds: dispatches DATA, PAD and SETUP to the images of the streams
 * it has interest in, asks unknown sessions for a SETUP (at most once per pending-setup timeout),
 * keeps removed sessions in a cool-down, and sends the images' control frames (SM, NAK, RTTM)
 * back to each sender from this same socket.
 */
export class ReceiveChannelEndpoint {
  readonly key: string;
  readonly bindAddress: SocketAddress;
  readonly socket: DatagramSocket;
  readonly receiverId: bigint;
  private readonly components: DriverComponents;
  private readonly factory: ImageFactory;
  private readonly streams = new Map<number, StreamInterest>();
  private readonly data = new DataHeaderFlyweight();
  private readonly setup = new SetupFlyweight();
  private readonly rttm = new RttMeasurementFlyweight();
  private readonly controlBuffer = new Uint8Array(64);
  private readonly sm = new StatusMessageFlyweight();
  private readonly rttmReply = new RttMeasurementFlyweight();
  private imageCount = 0;
  private closed = false;

  constructor(key: string, bind: SocketAddress, receiverId: bigint, components: DriverComponents, factory: ImageFactory) {
    this.key = key;
    this.bindAddress = bind;
    this.receiverId = receiverId;
    this.components = components;
    this.factory = factory;
    const rcvbuf = components.settings.socketRcvbufLength;
    this.socket = components.transport.open({
      family: bind.family,
      bindAddress: bind.host,
      bindPort: bind.port,
      rcvbufLength: rcvbuf === 0 ? undefined : rcvbuf,
      name: `receive ${key}`,
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
    if (interest === undefined) this.streams.set(streamId, (interest = { subscriptions: 0, images: new Map(), marks: new Map() }));
    interest.subscriptions++;
  }

  /** Drops one subscription's interest; returns the images of the stream when none is left. */
  removeInterest(streamId: number): PublicationImage[] {
    const interest = this.streams.get(streamId);
    if (interest === undefined) return [];
    interest.subscriptions--;
    if (interest.subscriptions > 0) return [];
    this.streams.delete(streamId);
    const images = [...interest.images.values()];
    this.imageCount -= images.length;
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
    interest.marks.set(image.sessionId, { kind: SessionKind.COOL_DOWN, untilNs: nowNs + this.components.settings.imageCoolDownNs });
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
      counters.invalidPackets.increment();
      return;
    }
    try {
      const nowNs = this.components.clock.nanoTime();
      if (type === FrameType.DATA || type === FrameType.PAD) {
        this.onData(data, length, srcAddress, srcPort, nowNs);
        // A heartbeat only refreshes liveness; the periodic duty cycle handles it.
        if (length === 32 && type === FrameType.DATA && this.data.wrap(data, 0, length).frameLength === 0) return;
      } else if (type === FrameType.SETUP) this.onSetup(data, length, srcAddress, srcPort, nowNs);
      else if (type === FrameType.RTTM) this.onRttm(data, length, srcAddress, srcPort);
    } catch (error) {
      this.components.onError(error);
    }
    this.components.wake();
  }

  private onData(data: Uint8Array, length: number, srcAddress: string, srcPort: number, nowNs: number): void {
    const header = this.data.wrap(data, 0, length);
    const interest = this.streams.get(header.streamId);
    if (interest === undefined) return;
    const sessionId = header.sessionId;
    const image = interest.images.get(sessionId);
    if (image !== undefined) {
      image.insertPacket(data, length, nowNs);
      return;
    }
    if ((header.flags & FrameFlags.EOS) !== 0 && header.frameLength === 0) return;
    const mark = interest.marks.get(sessionId);
    if (mark !== undefined && nowNs < mark.untilNs) return;
    if (interest.marks.size >= this.components.settings.maxImagesPerEndpoint) this.expireMarks(interest, nowNs);
    interest.marks.set(sessionId, { kind: SessionKind.PENDING_SETUP, untilNs: nowNs + this.components.settings.pendingSetupTimeoutNs });
    this.sendSetupElicitation(sessionId, header.streamId, srcAddress, srcPort);
  }

  private expireMarks(interest: StreamInterest, nowNs: number): void {
    for (const [sessionId, mark] of interest.marks) if (nowNs >= mark.untilNs) interest.marks.delete(sessionId);
  }

  private onSetup(data: Uint8Array, length: number, srcAddress: string, srcPort: number, nowNs: number): void {
    const s = this.setup.wrap(data, 0, length);
    this.components.driverCounters.setupsReceived.increment();
    const interest = this.streams.get(s.streamId);
    if (interest === undefined) return;
    const sessionId = s.sessionId;
    if (interest.images.has(sessionId)) return;
    const mark = interest.marks.get(sessionId);
    if (mark !== undefined && mark.kind === SessionKind.COOL_DOWN && nowNs < mark.untilNs) return;
    const termLength = s.termLength;
    const termOffset = s.termOffset;
    const mtu = s.mtu;
    const validTerm = termLength >= 65536 && termLength <= 1 << 30 && (termLength & (termLength - 1)) === 0;
    if (!validTerm || termOffset < 0 || termOffset >= termLength || (termOffset & 31) !== 0 || mtu < 32 || mtu > 65504 || (mtu & 31) !== 0) {
      this.components.driverCounters.invalidPackets.increment();
      return;
    }
    if (this.imageCount >= this.components.settings.maxImagesPerEndpoint) {
      this.components.onError(new Error(`image limit ${this.components.settings.maxImagesPerEndpoint} reached on ${this.key}: SETUP for session ${sessionId} stream ${s.streamId} ignored`));
      return;
    }
    const image = this.factory.onCreateImage(
      this,
      {
        sessionId,
        streamId: s.streamId,
        initialTermId: s.initialTermId,
        activeTermId: s.activeTermId,
        termOffset,
        termLength,
        mtu,
        flags: s.flags,
        srcAddress,
        srcPort,
      },
      nowNs,
    );
    if (image === null) return;
    interest.marks.delete(sessionId);
    interest.images.set(sessionId, image);
    this.imageCount++;
  }

  private onRttm(data: Uint8Array, length: number, srcAddress: string, srcPort: number): void {
    const r = this.rttm.wrap(data, 0, length);
    this.components.driverCounters.rttmReceived.increment();
    if ((r.flags & FrameFlags.RTTM_REPLY) === 0) return;
    const receiverId = r.receiverId;
    if (receiverId !== 0n && receiverId !== this.receiverId) return;
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
    if (this.sendControl(this.controlBuffer, RTTM_LENGTH, srcAddress, srcPort)) this.components.driverCounters.rttmSent.increment();
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
