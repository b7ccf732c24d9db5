/**
 * Replay merge: a subscriber that starts late reads a stream from a recorded position and then
 * carries on with the live stream, without a gap and without a duplicate.
 *
 * The subscription is multi-destination (`aeron:udp?control-mode=manual`). The archive replays
 * the recording to the replay destination with the live stream's session id, so the replayed
 * frames and the live frames build one image: positions are positions, and a frame that comes
 * both ways is written once. The helper asks the recording's position, starts a replay that
 * follows the recording, and once the image is within a quarter term of the recorded position
 * it adds the live destination. When the image has caught up with the recording and frames
 * arrive both ways, it removes the replay destination and stops the replay: the image goes on
 * with the live stream alone (state MERGED).
 *
 * States: GET_RECORDING_POSITION → REPLAY → CATCHUP ⇄ ATTEMPT_LIVE_JOIN → MERGED; FAILED when a
 * step fails or no progress is made for `mergeProgressTimeoutMs`; CLOSED after close(). The work
 * is done by {@link ReplayMerge.poll} (or {@link ReplayMerge.advance}) on the application's thread,
 * as with Aeron's ReplayMerge; requests to the archive are in flight between calls.
 */
import type { Subscription } from '../client/subscription.js';
import type { Image } from '../client/image.js';
import type { FragmentHandler } from '../logbuffer/header.js';
import { systemNanoClock, type NanoClock } from '../env/clock.js';
import { ChannelUri } from '../protocol/channel-uri.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import type { ArchiveClient } from './archive-client.js';

export type ReplayMergeState = 'GET_RECORDING_POSITION' | 'REPLAY' | 'CATCHUP' | 'ATTEMPT_LIVE_JOIN' | 'MERGED' | 'FAILED' | 'CLOSED';

export interface ReplayMergeOptions {
  /** A multi-destination subscription (`aeron:udp?control-mode=manual`) on the replay's stream id. */
  readonly subscription: Subscription;
  readonly archive: ArchiveClient;
  /** The channel the archive replays on, with `session-id=` of the live stream, e.g. `aeron:udp?session-id=7`. */
  readonly replayChannel: string;
  /** Where the replay arrives: `aeron:udp?endpoint=host:port` (the port is named, not 0). */
  readonly replayDestination: string;
  /** Where the live stream arrives, e.g. `aeron:udp?endpoint=host:port|control=host:port` for a dynamic MDC publication. */
  readonly liveDestination: string;
  readonly recordingId: number;
  /** The position the replay starts from (a frame boundary of the recording). */
  readonly startPosition: number;
  /** @default 5000 */
  readonly mergeProgressTimeoutMs?: number;
  readonly clock?: NanoClock;
}

/** Aeron's bound on the distance at which the live destination is added. */
export const LIVE_ADD_MAX_WINDOW = 32 * 1024 * 1024;
/** How often the recorded position is asked while catching up. */
const POSITION_POLL_INTERVAL_MS = 100;

type Outcome = { done: false } | { done: true; value: unknown; error: unknown };

export class ReplayMerge {
  private readonly subscription: Subscription;
  private readonly archive: ArchiveClient;
  private readonly replayChannel: string;
  private readonly replayDestination: string;
  private readonly liveDestination: string;
  private readonly recordingId: number;
  private readonly startPosition: number;
  private readonly progressTimeoutNs: number;
  private readonly clock: NanoClock;
  private currentState: ReplayMergeState = 'GET_RECORDING_POSITION';
  private failure: SkeinError | null = null;
  /** The one archive request (or destination change) in flight, or null. */
  private pending: Outcome | null = null;
  private nextTargetPosition = -1;
  private replaySessionId: bigint | null = null;
  private mergedImage: Image | null = null;
  private liveAdded = false;
  private lastProgressNs: number;
  private lastProgressPosition = -1;
  private nextPositionQueryNs = 0;

  constructor(options: ReplayMergeOptions) {
    const { subscription, replayChannel, replayDestination, liveDestination } = options;
    for (const [name, channel] of [['subscription', subscription.channel], ['replayChannel', replayChannel], ['replayDestination', replayDestination], ['liveDestination', liveDestination]] as const) {
      if (channel.startsWith('aeron:ipc')) throw this.misuse(`${name} ${channel}: replay merge runs over UDP; IPC cannot be merged`);
    }
    if (ChannelUri.parse(subscription.channel).get('control-mode') !== 'manual') {
      throw this.misuse(`the subscription ${subscription.channel} must be multi-destination (control-mode=manual)`);
    }
    const replayEndpoint = ChannelUri.parse(replayDestination).get('endpoint');
    if (replayEndpoint === undefined || replayEndpoint.endsWith(':0')) {
      throw this.misuse(`replayDestination ${replayDestination} must name its endpoint with a port other than 0`);
    }
    if (ChannelUri.parse(replayChannel).get('session-id') === undefined) {
      throw this.misuse(`replayChannel ${replayChannel} must carry session-id= of the live stream, so the replay and the live stream make one image`);
    }
    this.subscription = subscription;
    this.archive = options.archive;
    this.replayChannel = ChannelUri.parse(replayChannel).withParam('linger', '0').withParam('eos', 'false').withParam('endpoint', replayEndpoint).toString();
    this.replayDestination = replayDestination;
    this.liveDestination = liveDestination;
    this.recordingId = options.recordingId;
    this.startPosition = options.startPosition;
    this.progressTimeoutNs = (options.mergeProgressTimeoutMs ?? 5000) * 1e6;
    this.clock = options.clock ?? systemNanoClock;
    this.lastProgressNs = this.clock.nanoTime();
    // The replay destination first: its socket is bound before the replay is asked for.
    this.track(subscription.addDestination(replayDestination));
  }

  get state(): ReplayMergeState {
    return this.currentState;
  }

  get isMerged(): boolean {
    return this.currentState === 'MERGED';
  }

  get hasFailed(): boolean {
    return this.currentState === 'FAILED';
  }

  /** Why the merge failed, when it did. */
  get error(): SkeinError | null {
    return this.failure;
  }

  get isLiveAdded(): boolean {
    return this.liveAdded;
  }

  /** The image replay and live stream build, once it is there. */
  get image(): Image | null {
    return this.mergedImage;
  }

  /** Moves the merge on, then polls the image. */
  poll(handler: FragmentHandler, fragmentLimit: number): number {
    this.advance();
    return this.mergedImage === null ? 0 : this.mergedImage.poll(handler, fragmentLimit);
  }

  /** Moves the merge on without polling, for an application that polls {@link image} itself; returns the work done. */
  advance(): number {
    const nowNs = this.clock.nanoTime();
    const pending = this.pending;
    if (pending !== null) {
      if (!pending.done) return this.checkProgress(nowNs);
      this.pending = null;
      if (pending.error !== undefined) {
        this.fail(pending.error);
        return 1;
      }
    }
    let work = 0;
    switch (this.currentState) {
      case 'GET_RECORDING_POSITION':
        work += this.getRecordingPosition(pending, nowNs);
        break;
      case 'REPLAY':
        work += this.replay(pending, nowNs);
        break;
      case 'CATCHUP':
        work += this.catchup(nowNs);
        break;
      case 'ATTEMPT_LIVE_JOIN':
        work += this.attemptLiveJoin(pending, nowNs);
        break;
      default:
        return 0;
    }
    return work + this.checkProgress(nowNs);
  }

  /**
   * Stops the merge: a replay still running is stopped and the replay destination removed. The
   * live destination, if added, stays, so the subscription goes on with the live stream.
   */
  close(): void {
    const state = this.currentState;
    if (state === 'CLOSED') return;
    this.currentState = 'CLOSED';
    if (state !== 'MERGED') {
      const ignore = (): void => {};
      if (this.replaySessionId !== null) this.archive.stopReplay(this.replaySessionId).catch(ignore);
      if (!this.subscription.isClosed) this.subscription.removeDestination(this.replayDestination).catch(ignore);
    }
  }

  private getRecordingPosition(pending: Outcome | null, nowNs: number): number {
    if (pending === null || !this.positionAnswer(pending)) return this.askPosition(nowNs, pending === null);
    this.lastProgressNs = nowNs;
    this.currentState = 'REPLAY';
    return 1;
  }

  private replay(pending: Outcome | null, nowNs: number): number {
    if (pending === null) {
      // Follow the recording: the replay goes on until it is stopped.
      this.track(this.archive.replay(this.recordingId, this.startPosition, -1, this.replayChannel, this.subscription.streamId));
      this.lastProgressNs = nowNs;
      return 1;
    }
    this.replaySessionId = pending.done ? (pending.value as bigint) : null;
    this.lastProgressNs = nowNs;
    this.nextPositionQueryNs = nowNs;
    this.currentState = 'CATCHUP';
    return 1;
  }

  private catchup(nowNs: number): number {
    if (this.mergedImage === null && this.replaySessionId !== null) {
      const image = this.subscription.imageBySessionId(Number(this.replaySessionId & 0xffffffffn) | 0);
      if (image !== undefined) {
        this.mergedImage = image;
        this.lastProgressPosition = image.position;
        this.lastProgressNs = nowNs;
      }
    }
    const image = this.mergedImage;
    if (image === null) return 0;
    const position = image.position;
    if (position >= this.nextTargetPosition) {
      this.noteProgress(position, nowNs);
      this.currentState = 'ATTEMPT_LIVE_JOIN';
      return 1;
    }
    if (position > this.lastProgressPosition) {
      this.noteProgress(position, nowNs);
    } else if (image.isClosed) {
      this.fail(new SkeinError(ErrorCode.ARCHIVE_REQUEST_FAILED, `replay merge of recording ${this.recordingId}: the image closed during catch-up at position ${position}`, this.subject('CATCHUP')));
      return 1;
    }
    return 0;
  }

  private attemptLiveJoin(pending: Outcome | null, nowNs: number): number {
    if (pending === null || !this.positionAnswer(pending)) return this.askPosition(nowNs, false);
    const image = this.mergedImage;
    let next: ReplayMergeState = 'CATCHUP';
    if (image !== null) {
      const position = image.position;
      const distance = this.nextTargetPosition - position;
      if (!this.liveAdded && distance <= Math.min(image.termBufferLength >> 2, LIVE_ADD_MAX_WINDOW)) {
        this.liveAdded = true;
        this.track(this.subscription.addDestination(this.liveDestination));
        this.noteProgress(position, nowNs);
      } else if (this.liveAdded && distance <= 0 && image.activeTransportCount >= 2) {
        const ignore = (): void => {};
        this.subscription.removeDestination(this.replayDestination).catch((error: unknown) => this.fail(error));
        if (this.replaySessionId !== null) this.archive.stopReplay(this.replaySessionId).catch(ignore);
        this.noteProgress(position, nowNs);
        next = 'MERGED';
      }
    }
    this.currentState = next;
    return 1;
  }

  /** Asks the recording's position (at most every POSITION_POLL_INTERVAL_MS unless `now`). */
  private askPosition(nowNs: number, now: boolean): number {
    if (!now && nowNs < this.nextPositionQueryNs) return 0;
    this.nextPositionQueryNs = nowNs + POSITION_POLL_INTERVAL_MS * 1e6;
    this.track(this.archive.getRecordingPosition(this.recordingId));
    return 1;
  }

  /**
   * Takes a recording position answer: true when there is one. A recording that is not active
   * answers -1; the question is asked again until the progress timeout says so.
   */
  private positionAnswer(pending: Outcome): boolean {
    if (!pending.done || typeof pending.value !== 'number' || pending.value < 0) return false;
    this.nextTargetPosition = pending.value;
    return true;
  }

  private track(promise: Promise<unknown>): void {
    const outcome: { done: boolean; value: unknown; error: unknown } = { done: false, value: undefined, error: undefined };
    this.pending = outcome as Outcome;
    promise.then(
      (value) => {
        outcome.value = value;
        outcome.done = true;
      },
      (error: unknown) => {
        outcome.error = error ?? new Error('rejected');
        outcome.done = true;
      },
    );
  }

  private noteProgress(position: number, nowNs: number): void {
    this.lastProgressPosition = position;
    this.lastProgressNs = nowNs;
  }

  private checkProgress(nowNs: number): number {
    const state = this.currentState;
    if (state === 'MERGED' || state === 'FAILED' || state === 'CLOSED') return 0;
    if (nowNs - this.lastProgressNs <= this.progressTimeoutNs) return 0;
    const transports = this.mergedImage?.activeTransportCount ?? 0;
    this.fail(
      new SkeinError(
        ErrorCode.TIMEOUT,
        `replay merge of recording ${this.recordingId} made no progress for ${this.progressTimeoutNs / 1e6} ms in state ${state} ` +
          `(image position ${this.mergedImage?.position ?? 'none'}, recorded position ${this.nextTargetPosition}${this.nextTargetPosition < 0 ? ': the recording is not active' : ''}, active transports ${transports})`,
        { ...this.subject(state), timeoutMs: this.progressTimeoutNs / 1e6 },
      ),
    );
    return 1;
  }

  private fail(error: unknown): void {
    if (this.currentState === 'FAILED' || this.currentState === 'CLOSED') return;
    const state = this.currentState;
    this.failure =
      error instanceof SkeinError ? error : new SkeinError(ErrorCode.ARCHIVE_REQUEST_FAILED, `replay merge of recording ${this.recordingId} failed in state ${state}: ${error instanceof Error ? error.message : String(error)}`, this.subject(state));
    this.currentState = 'FAILED';
    this.pending = null;
    if (this.replaySessionId !== null) this.archive.stopReplay(this.replaySessionId).catch(() => {});
  }

  private subject(state: string): { channel: string; streamId: number; state: string } {
    return { channel: this.subscription.channel, streamId: this.subscription.streamId, state };
  }

  private misuse(message: string): SkeinError {
    return new SkeinError(ErrorCode.ARG_INVALID, message);
  }
}
