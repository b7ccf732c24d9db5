import type { DatagramSocket, MulticastOptions } from '../env/datagram.js';
import { validateDatagram, type InvalidFrameReasonCode } from '../protocol/frame-validator.js';
import { FrameType, FrameFlags } from '../protocol/frame-constants.js';
import { StatusMessageFlyweight } from '../protocol/status-message-flyweight.js';
import { NakFlyweight } from '../protocol/nak-flyweight.js';
import { RttMeasurementFlyweight } from '../protocol/rtt-measurement-flyweight.js';
import { ErrorFlyweight } from '../protocol/error-flyweight.js';
import { ResponseSetupFlyweight } from '../protocol/response-setup-flyweight.js';
import type { DriverComponents } from './driver-components.js';
import type { NetworkPublication } from './network-publication.js';
import type { SocketAddress } from './udp-channel.js';

/** A destination of a multi-destination channel. */
export interface Destination {
  readonly host: string;
  readonly port: number;
  /** Added by the application (control-mode=manual): it stays until removed. */
  readonly manual: boolean;
  /** The receiver it was learned from (dynamic), or 0n. */
  receiverId: bigint;
  lastSeenNs: number;
}

/** Told when an RSP_SETUP names one of the endpoint's publications (a request publication). */
export interface ResponseSetupHandler {
  onResponseSetup(publication: NetworkPublication, responseSessionId: number): void;
}

/**
 * The UDP socket of one or more network publications: sends their frames to each publication's
 * destination (the channel's endpoint, or for response publications the address their receiver
 * announced) and dispatches the control frames that come back (SM, NAK, RTTM, ERR, RSP_SETUP) to
 * the publication they name by session and stream.
 */
export class SendChannelEndpoint {
  readonly key: string;
  readonly socket: DatagramSocket;
  private readonly components: DriverComponents;
  private readonly byStream = new Map<number, Map<number, NetworkPublication>>();
  private readonly sm = new StatusMessageFlyweight();
  private readonly nak = new NakFlyweight();
  private readonly rttm = new RttMeasurementFlyweight();
  private readonly err = new ErrorFlyweight();
  private readonly rspSetup = new ResponseSetupFlyweight();
  private readonly responseSetupHandler: ResponseSetupHandler | undefined;
  private refCount = 0;
  private closed = false;
  /**
   * Multi-destination cast: `dynamic` learns destinations from the status messages (and setup
   * requests) its control address receives and drops them after `destinationTimeoutNs` of
   * silence; `manual` sends to the destinations the application adds. Null for other channels.
   */
  readonly mdcMode: 'dynamic' | 'manual' | null;
  private destinationList: Destination[] = [];

  /**
   * `multicast`: the socket binds the control group (the data group's next address) with
   * SO_REUSEADDR, joins it to hear every receiver's status messages and NAKs, and sends data to
   * the data group through the channel's interface with its TTL.
   */
  constructor(
    key: string,
    bind: SocketAddress,
    components: DriverComponents,
    responseSetupHandler?: ResponseSetupHandler,
    multicast?: MulticastOptions,
    mdcMode: 'dynamic' | 'manual' | null = null,
  ) {
    this.key = key;
    this.mdcMode = mdcMode;
    this.components = components;
    this.responseSetupHandler = responseSetupHandler;
    this.socket = components.transport.open({
      family: bind.family,
      bindAddress: bind.host,
      bindPort: bind.port,
      sndbufLength: components.settings.socketSndbufLength || undefined,
      name: `send ${key}`,
      onSendError: components.onSendError,
      ...(multicast === undefined ? {} : { reuseAddress: true, multicast }),
    });
    this.socket.onDatagram = (data, length, srcAddress, srcPort) => this.onDatagram(data, length, srcAddress, srcPort);
  }

  get publicationCount(): number {
    return this.refCount;
  }

  add(publication: NetworkPublication): void {
    let sessions = this.byStream.get(publication.streamId);
    if (sessions === undefined) this.byStream.set(publication.streamId, (sessions = new Map()));
    sessions.set(publication.sessionId, publication);
    this.refCount++;
  }

  /** Removes a publication; returns true when no publication uses the endpoint any more. */
  remove(publication: NetworkPublication): boolean {
    const sessions = this.byStream.get(publication.streamId);
    if (sessions?.get(publication.sessionId) === publication) {
      sessions.delete(publication.sessionId);
      if (sessions.size === 0) this.byStream.delete(publication.streamId);
      this.refCount--;
    }
    return this.refCount === 0;
  }

  /** The destinations of a multi-destination channel. */
  get destinations(): readonly Destination[] {
    return this.destinationList;
  }

  /** Adds a destination by hand (control-mode=manual); false when it is there already. */
  addDestination(host: string, port: number, nowNs: number): boolean {
    if (this.destinationList.some((d) => d.host === host && d.port === port)) return false;
    this.destinationList = [...this.destinationList, { host, port, manual: true, receiverId: 0n, lastSeenNs: nowNs }];
    return true;
  }

  /** Removes a destination; false when there was none at that address. */
  removeDestination(host: string, port: number): boolean {
    const before = this.destinationList.length;
    this.destinationList = this.destinationList.filter((d) => !(d.host === host && d.port === port));
    return this.destinationList.length < before;
  }

  /** Drops dynamic destinations silent for `timeoutNs`; returns how many went. */
  checkDestinations(nowNs: number, timeoutNs: number): number {
    if (this.mdcMode !== 'dynamic') return 0;
    const before = this.destinationList.length;
    this.destinationList = this.destinationList.filter((d) => d.manual || nowNs - d.lastSeenNs <= timeoutNs);
    return before - this.destinationList.length;
  }

  /** Sends one datagram to every destination; true when it went to at least one. */
  sendToDestinations(buffer: Uint8Array, offset: number, length: number): boolean {
    const destinations = this.destinationList;
    let sent = false;
    for (let i = 0; i < destinations.length; i++) {
      const d = destinations[i]!;
      if (this.send(buffer, offset, length, d.host, d.port)) sent = true;
    }
    return sent;
  }

  /** A status message (or setup request) reached a dynamic channel's control address: its sender is a destination. */
  private learnDestination(srcAddress: string, srcPort: number, receiverId: bigint, nowNs: number): void {
    const destinations = this.destinationList;
    for (let i = 0; i < destinations.length; i++) {
      const d = destinations[i]!;
      if (d.host === srcAddress && d.port === srcPort) {
        d.lastSeenNs = nowNs;
        d.receiverId = receiverId;
        return;
      }
    }
    if (destinations.length >= this.components.settings.receiversPerPublicationMax) {
      this.components.driverCounters.receiversRejected.increment();
      return;
    }
    this.destinationList = [...destinations, { host: srcAddress, port: srcPort, manual: false, receiverId, lastSeenNs: nowNs }];
  }

  /** Sends one datagram to a publication's destination; false (and a short-send count) if it did not go out. */
  send(buffer: Uint8Array, offset: number, length: number, host: string, port: number): boolean {
    if (this.socket.status !== 'bound') return false;
    const sent = this.socket.send(buffer, offset, length, host, port);
    const counters = this.components.driverCounters;
    if (sent) {
      counters.bytesSent.add(length);
      counters.framesSent.increment();
    } else {
      counters.shortSends.increment();
    }
    return sent;
  }

  /** Sends to an explicit address (replies such as RTTM answers). */
  sendTo(buffer: Uint8Array, offset: number, length: number, host: string, port: number): boolean {
    if (this.socket.status !== 'bound') return false;
    // Reply buffers are reused at once; the copy keeps a queued datagram intact.
    const sent = this.socket.send(buffer.slice(offset, offset + length), 0, length, host, port);
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

  private find(sessionId: number, streamId: number): NetworkPublication | undefined {
    return this.byStream.get(streamId)?.get(sessionId);
  }

  private onDatagram(data: Uint8Array, length: number, srcAddress: string, srcPort: number): void {
    const counters = this.components.driverCounters;
    counters.bytesReceived.add(length);
    const type = validateDatagram(data, 0, length);
    if (type < 0) {
      counters.invalidFrame(type as InvalidFrameReasonCode);
      return;
    }
    const nowNs = this.components.clock.nanoTime();
    let wake = true;
    try {
      switch (type) {
        case FrameType.SM: {
          const sm = this.sm.wrap(data, 0, length);
          counters.statusMessagesReceived.increment();
          if (this.mdcMode === 'dynamic') this.learnDestination(srcAddress, srcPort, sm.receiverId, nowNs);
          wake = this.find(sm.sessionId, sm.streamId)?.onStatusMessage(sm, srcAddress, srcPort, nowNs) === true;
          break;
        }
        case FrameType.NAK: {
          const nak = this.nak.wrap(data, 0, length);
          counters.naksReceived.increment();
          this.find(nak.sessionId, nak.streamId)?.onNak(nak, nowNs);
          break;
        }
        case FrameType.RTTM: {
          const rttm = this.rttm.wrap(data, 0, length);
          counters.rttmReceived.increment();
          if ((rttm.flags & FrameFlags.RTTM_REPLY) !== 0) this.find(rttm.sessionId, rttm.streamId)?.onRttm(rttm, srcAddress, srcPort);
          break;
        }
        case FrameType.RSP_SETUP: {
          const rsp = this.rspSetup.wrap(data, 0, length);
          counters.responseSetupsReceived.increment();
          const publication = this.find(rsp.sessionId, rsp.streamId);
          if (publication !== undefined && this.responseSetupHandler !== undefined) {
            this.responseSetupHandler.onResponseSetup(publication, rsp.responseSessionId);
          }
          break;
        }
        case FrameType.ERR: {
          const err = this.err.wrap(data, 0, length);
          counters.errorFramesReceived.increment();
          this.find(err.sessionId, err.streamId)?.onErrorFrame(err, nowNs);
          break;
        }
        default:
          break;
      }
    } catch (error) {
      this.components.onError(error);
    }
    if (wake) this.components.wake();
  }
}
