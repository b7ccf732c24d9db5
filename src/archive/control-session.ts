/**
 * One client's control session with the archive (ARCHIVE.md §3.1, §6). States:
 *
 *   INIT --(response publication added)--> CONNECTING --(it connects)--> CONNECTED
 *   CONNECTED --(client major version 1, authenticated)--> AUTHENTICATED --(first request)--> ACTIVE
 *   CONNECTED --(another major version)--> REJECTED (an ERROR every 200 ms until the deadline)
 *   any --(deadline passed, publication lost, request image gone, close asked)--> DONE
 *
 * Liveness is "can the archive still deliver to this client": a response that cannot be sent is
 * queued and retried in order every cycle, and the first failure starts a deadline of
 * connectTimeoutMs that any later successful send clears. In ACTIVE the archive pings every
 * liveness interval, so a client that stops taking its responses is found even when nothing
 * else is sent. Every end is reported with its reason, naming channel, stream, session and the
 * timeout or state.
 */
import type { Publication } from '../client/publication.js';
import { ErrorCode, SkeinError } from '../util/errors.js';

export type ControlSessionState = 'INIT' | 'CONNECTING' | 'CONNECTED' | 'AUTHENTICATED' | 'ACTIVE' | 'REJECTED' | 'DONE';

/** The archive control protocol version this archive speaks: 1.12.0. */
export const ARCHIVE_PROTOCOL_VERSION = (1 << 16) | (12 << 8) | 0;
export const RESEND_INTERVAL_NS = 200_000_000;
/** Offers of one response per cycle before it counts as not sent. */
const SEND_ATTEMPTS = 3;

export function versionText(version: number): string {
  return `${(version >>> 16) & 0xff}.${(version >>> 8) & 0xff}.${version & 0xff}`;
}

/**
 * Encodes the archive's responses into a buffer, returning their length (the SBE codecs of
 * schema 101 do this). Kept apart so the session's logic does not depend on the encoding.
 */
export interface ControlResponseEncoder {
  /** ControlResponse: `code` 0 OK, 1 ERROR, 2 RECORDING_UNKNOWN, 3 SUBSCRIPTION_UNKNOWN. */
  controlResponse(buffer: Uint8Array, controlSessionId: number, correlationId: number, relevantId: bigint, code: number, errorMessage: string): number;
  ping(buffer: Uint8Array, controlSessionId: number): number;
}

/** Why a session ended; the "normal" reasons are logged as information, the others as warnings. */
import type { ControlSessionEnd } from './archive-codes.js';
export type { ControlSessionEnd } from './archive-codes.js';

export interface ControlSessionListener {
  onControlSessionDone(session: ControlSession, end: ControlSessionEnd): void;
}

export interface ControlSessionInit {
  readonly controlSessionId: number;
  readonly connectCorrelationId: number;
  readonly clientVersion: number;
  readonly responseChannel: string;
  readonly responseStreamId: number;
  /** The correlation id of the image the connect request came on: later requests must come on it too. */
  readonly requestImageId: number;
  readonly encoder: ControlResponseEncoder;
  readonly listener: ControlSessionListener;
  readonly nowNs: number;
  readonly connectTimeoutNs: number;
  readonly livenessCheckIntervalNs: number;
}

export class ControlSession {
  readonly controlSessionId: number;
  readonly responseChannel: string;
  readonly responseStreamId: number;
  readonly requestImageId: number;
  readonly clientVersion: number;
  private correlationId: number;
  private readonly encoder: ControlResponseEncoder;
  private readonly listener: ControlSessionListener;
  private readonly connectTimeoutNs: number;
  private readonly livenessCheckIntervalNs: number;
  private sessionState: ControlSessionState = 'INIT';
  private publication: Publication | null = null;
  /** When the session ends unless a send succeeds (or, before AUTHENTICATED, unless it gets there); -1: none. */
  private activityDeadlineNs: number;
  private resendDeadlineNs = 0;
  private pingDeadlineNs = 0;
  private readonly queue: Uint8Array[] = [];
  private readonly buffer = new Uint8Array(2048);
  private wasConnected = false;

  constructor(init: ControlSessionInit) {
    this.controlSessionId = init.controlSessionId;
    this.correlationId = init.connectCorrelationId;
    this.clientVersion = init.clientVersion;
    this.responseChannel = init.responseChannel;
    this.responseStreamId = init.responseStreamId;
    this.requestImageId = init.requestImageId;
    this.encoder = init.encoder;
    this.listener = init.listener;
    this.connectTimeoutNs = init.connectTimeoutNs;
    this.livenessCheckIntervalNs = init.livenessCheckIntervalNs;
    this.activityDeadlineNs = init.nowNs + init.connectTimeoutNs;
  }

  get state(): ControlSessionState {
    return this.sessionState;
  }

  /** Responses waiting to be sent again. */
  get queuedResponses(): number {
    return this.queue.length;
  }

  /** The response publication is ready (added by the archive on the client's response channel). */
  onResponsePublication(publication: Publication): void {
    if (this.sessionState === 'DONE') {
      publication.close();
      return;
    }
    this.publication = publication;
    if (this.sessionState === 'INIT') this.sessionState = 'CONNECTING';
  }

  /** The response publication could not be added: the session ends with that error. */
  onResponsePublicationFailed(error: unknown): void {
    this.abort(`control response publication could not be added: ${error instanceof Error ? error.message : String(error)}`, false);
  }

  /**
   * A request arrived for this session (on its request image): the first one after
   * authentication activates the session. Returns whether the session serves requests now.
   */
  onRequest(): boolean {
    if (this.sessionState === 'AUTHENTICATED') this.sessionState = 'ACTIVE';
    return this.sessionState === 'ACTIVE';
  }

  doWork(nowNs: number): number {
    switch (this.sessionState) {
      case 'INIT':
        return this.checkDeadline(nowNs);
      case 'CONNECTING':
        if (this.publication!.isConnected) {
          this.wasConnected = true;
          this.sessionState = 'CONNECTED';
          return 1;
        }
        return this.checkPublication() + this.checkDeadline(nowNs);
      case 'CONNECTED':
        return this.connected(nowNs);
      case 'AUTHENTICATED':
        if (nowNs >= this.resendDeadlineNs) {
          this.resendDeadlineNs = nowNs + RESEND_INTERVAL_NS;
          this.sendOkConnect(nowNs);
        }
        if (this.activityDeadlineNs !== -1 && nowNs >= this.activityDeadlineNs) {
          this.abort(`failed to send response for more than connectTimeoutMs=${this.connectTimeoutNs / 1e6}`, false);
          return 1;
        }
        return this.checkPublication();
      case 'REJECTED':
        if (nowNs >= this.resendDeadlineNs) {
          this.resendDeadlineNs = nowNs + RESEND_INTERVAL_NS;
          this.sendResponse(nowNs, this.correlationId, BigInt(this.controlSessionId), 1, `invalid client version ${versionText(this.clientVersion)}, archive is ${versionText(ARCHIVE_PROTOCOL_VERSION)}`, true);
        }
        return this.checkPublication() + this.checkDeadline(nowNs);
      case 'ACTIVE':
        return this.active(nowNs);
      case 'DONE':
        return 0;
    }
  }

  /** Sends a ControlResponse (queued when it cannot go now). */
  sendResponse(nowNs: number, correlationId: number, relevantId: bigint, code: number, errorMessage = '', bypassQueue = false): void {
    const length = this.encoder.controlResponse(this.buffer, this.controlSessionId, correlationId, relevantId, code, errorMessage);
    this.send(nowNs, this.buffer, length, bypassQueue);
  }

  /** Sends an encoded message of `length` bytes (queued when it cannot go now). */
  send(nowNs: number, buffer: Uint8Array, length: number, bypassQueue = false): void {
    if (this.sessionState === 'DONE' || this.publication === null) return;
    if ((bypassQueue || this.queue.length === 0) && this.offer(buffer, length)) {
      // Before authentication the connect deadline stands, whatever is sent.
      if (this.sessionState === 'AUTHENTICATED' || this.sessionState === 'ACTIVE') this.activityDeadlineNs = -1;
      return;
    }
    if (!bypassQueue) this.queue.push(buffer.slice(0, length));
    if (this.activityDeadlineNs === -1) this.activityDeadlineNs = nowNs + this.connectTimeoutNs;
  }

  /** Ends the session with `reason`; idempotent. `normal`: a close, a lost client (logged as information). */
  abort(reason: string, normal: boolean): void {
    if (this.sessionState === 'DONE') return;
    const state = this.sessionState;
    this.sessionState = 'DONE';
    this.queue.length = 0;
    this.publication?.close();
    const error = new SkeinError(
      ErrorCode.CLOSED,
      `controlSessionId=${this.controlSessionId} (controlResponseStreamId=${this.responseStreamId} controlResponseChannel=${this.responseChannel}) terminated: ${reason}`,
      { channel: this.responseChannel, streamId: this.responseStreamId, state, category: 'warn' },
    );
    this.listener.onControlSessionDone(this, { reason, normal, error });
  }

  private connected(nowNs: number): number {
    if ((this.clientVersion >>> 16) !== (ARCHIVE_PROTOCOL_VERSION >>> 16)) {
      this.sessionState = 'REJECTED';
      this.resendDeadlineNs = nowNs;
      return 1;
    }
    this.sessionState = 'AUTHENTICATED';
    this.activityDeadlineNs = -1;
    this.resendDeadlineNs = nowNs + RESEND_INTERVAL_NS;
    this.sendOkConnect(nowNs);
    return 1;
  }

  private sendOkConnect(nowNs: number): void {
    this.sendResponse(nowNs, this.correlationId, BigInt(this.controlSessionId), 0, '', true);
  }

  private active(nowNs: number): number {
    let work = this.checkPublication();
    if (this.sessionState !== 'ACTIVE') return work;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (!this.offer(next, next.length)) break;
      this.queue.shift();
      this.activityDeadlineNs = -1;
      work++;
    }
    if (this.queue.length > 0 && this.activityDeadlineNs === -1) this.activityDeadlineNs = nowNs + this.connectTimeoutNs;
    if (nowNs >= this.pingDeadlineNs) {
      this.pingDeadlineNs = nowNs + this.livenessCheckIntervalNs;
      const length = this.encoder.ping(this.buffer, this.controlSessionId);
      if (this.queue.length === 0 && this.offer(this.buffer, length)) this.activityDeadlineNs = -1;
      else if (this.activityDeadlineNs === -1) this.activityDeadlineNs = nowNs + this.connectTimeoutNs;
      work++;
    }
    if (this.activityDeadlineNs !== -1 && nowNs >= this.activityDeadlineNs) {
      this.abort(`failed to send response for more than connectTimeoutMs=${this.connectTimeoutNs / 1e6}`, false);
      return work + 1;
    }
    return work;
  }

  private checkPublication(): number {
    const publication = this.publication;
    if (publication === null) return 0;
    if (publication.isClosed || (this.wasConnected && !publication.isConnected)) {
      this.abort('control response publication is not connected', true);
      return 1;
    }
    return 0;
  }

  private checkDeadline(nowNs: number): number {
    if (this.activityDeadlineNs !== -1 && nowNs >= this.activityDeadlineNs) {
      this.abort(`failed to establish initial connection: state=${this.sessionState} within connectTimeoutMs=${this.connectTimeoutNs / 1e6}`, false);
      return 1;
    }
    return 0;
  }

  private offer(buffer: Uint8Array, length: number): boolean {
    const publication = this.publication!;
    for (let i = 0; i < SEND_ATTEMPTS; i++) {
      if (publication.offer(buffer, 0, length) > 0) return true;
    }
    return false;
  }
}
