/**
 * Replication (ARCHIVE.md §7.5): this archive copies a recording of another archive by being a
 * client of it and recording a replay of the recording.
 *
 * States, one step at a time, each remote step bounded by the message timeout:
 *
 *   CONNECT → REPLICATE_DESCRIPTOR → [SRC_RECORDING_POSITION] → EXTEND → REPLAY → AWAIT_IMAGE
 *     → REPLICATE                      (until the source's stop position, a stop position, or the end of the replay)
 *     → CATCHUP ⇄ ATTEMPT_LIVE_JOIN    (live merge: join the live stream, then drop the replay)
 *   → DONE
 *
 * CONNECT opens an archive client to the source. REPLICATE_DESCRIPTOR lists the source recording
 * and creates the destination recording from its descriptor (signal REPLICATE), or continues a
 * stopped destination recording from its stop position. EXTEND starts recording the replication
 * channel into it (auto-stop; signal EXTEND when the replay's image arrives). REPLAY asks the
 * source for a replay to that channel with the recording's session id. A live merge or a tagged
 * replication records through a multi-destination subscription (`control-mode=manual`, tags
 * `channelTag,subscriptionTag`, the replay as one destination): once the recorded image is
 * within a quarter term of the source's recording position the live destination is added, and
 * once it has caught up and frames come both ways the replay destination is removed (signal
 * MERGE): the recording goes on from the live stream alone. A replication that reaches a stopped
 * source's stop position signals SYNC. Whatever the outcome, the end releases the source client,
 * the source replay and (unless merged) the recording, and signals REPLICATE_END. Failures go to
 * the requesting session as errors with the replication id as correlation id.
 */
import type { Subscription } from '../client/subscription.js';
import type { Image } from '../client/image.js';
import { ChannelUri } from '../protocol/channel-uri.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import type { ArchiveClient, ArchiveClientOptions } from './archive-client.js';
import type { RecordingDescriptor } from './catalog.js';
import { ArchiveErrorCode, RecordingSignal, type ControlSessionLink } from './archive-conductor.js';
import { LIVE_ADD_MAX_WINDOW } from './replay-merge.js';

export type ReplicationState =
  | 'CONNECT' | 'REPLICATE_DESCRIPTOR' | 'SRC_RECORDING_POSITION' | 'EXTEND' | 'REPLAY' | 'AWAIT_IMAGE' | 'REPLICATE' | 'CATCHUP' | 'ATTEMPT_LIVE_JOIN' | 'DONE';

/** What a replication needs of its archive. */
export interface ReplicationHost {
  connectSource(options: ArchiveClientOptions): Promise<ArchiveClient>;
  /** A new destination recording described as the source's, empty (start = stop = the source's start). */
  addReplicatedRecording(source: RecordingDescriptor, link: ControlSessionLink, replicationId: number): number;
  /** Starts recording `channel` into `recordingId` (auto-stop); resolves to the recording subscription. */
  extendForReplication(link: ControlSessionLink, replicationId: number, recordingId: number, streamId: number, channel: string): Promise<Subscription>;
  /** Stops the recording subscription (the recording ends at what it has). */
  closeRecordingSubscription(subscriptionId: number): void;
  onReplicationDone(session: ReplicationSession): void;
}

export interface ReplicationRequest {
  readonly replicationId: number;
  readonly link: ControlSessionLink;
  readonly srcRecordingId: number;
  /** -1: a new destination recording. */
  readonly dstRecordingId: number;
  /** The destination recording's stop position, when it continues one. */
  readonly dstStopPosition: number;
  /** -1: until the source stops. */
  readonly stopPosition: number;
  readonly channelTagId: number;
  readonly subscriptionTagId: number;
  readonly srcControlChannel: string;
  readonly srcControlStreamId: number;
  readonly srcResponseChannel: string;
  readonly liveDestination: string;
  readonly replicationChannel: string;
  readonly fileIoMaxLength: number;
  readonly replicationSessionId: number;
  readonly messageTimeoutNs: number;
}

type Outcome = { done: boolean; value: unknown; error: unknown };

const NULL_VALUE = -1;
/** Live-join recording position queries that time out before the replication gives up (as Aeron). */
const RETRY_ATTEMPTS = 3;

export class ReplicationSession {
  readonly replicationId: number;
  readonly link: ControlSessionLink;
  private readonly host: ReplicationHost;
  private readonly r: ReplicationRequest;
  private readonly isTagged: boolean;
  private readonly isMds: boolean;
  private readonly channelTagId: number;
  private readonly subscriptionTagId: number;
  private currentState: ReplicationState = 'CONNECT';
  private pending: Outcome | null = null;
  private actionDeadlineNs = 0;
  private src: ArchiveClient | null = null;
  private dstRecordingId: number;
  private replayPosition = 0;
  private replaySessionId = 0;
  private replayStreamId = 0;
  private srcStopPosition = NULL_VALUE;
  private srcRecordingPosition = NULL_VALUE;
  private srcReplaySessionId: bigint | null = null;
  private recordingSubscription: Subscription | null = null;
  private replayDestination: string | null = null;
  private image: Image | null = null;
  private liveAdded = false;
  private retries = RETRY_ATTEMPTS;
  private started = false;

  constructor(host: ReplicationHost, request: ReplicationRequest) {
    this.host = host;
    this.r = request;
    this.replicationId = request.replicationId;
    this.link = request.link;
    this.dstRecordingId = request.dstRecordingId;
    this.isTagged = request.channelTagId !== NULL_VALUE || request.subscriptionTagId !== NULL_VALUE;
    this.isMds = this.isTagged || request.liveDestination !== '';
    this.channelTagId = request.channelTagId === NULL_VALUE ? request.replicationId : request.channelTagId;
    this.subscriptionTagId = request.subscriptionTagId === NULL_VALUE ? request.replicationId : request.subscriptionTagId;
    if (request.dstRecordingId !== NULL_VALUE) this.replayPosition = request.dstStopPosition;
  }

  get state(): ReplicationState {
    return this.currentState;
  }

  get isDone(): boolean {
    return this.currentState === 'DONE';
  }

  doWork(nowNs: number): number {
    if (this.currentState === 'DONE') return 0;
    if (!this.started) {
      this.started = true;
      this.actionDeadlineNs = nowNs + this.r.messageTimeoutNs;
    }
    if (this.recordingSubscription !== null && this.recordingSubscription.isClosed) {
      this.finish(`recording subscription closed in state ${this.currentState}`);
      return 1;
    }
    const pending = this.pending;
    if (pending !== null) {
      if (!pending.done) return 0;
      this.pending = null;
      if (pending.error !== undefined) {
        this.onStepFailed(pending.error);
        return 1;
      }
    }
    try {
      return this.step(pending, nowNs);
    } catch (error) {
      this.fail(ArchiveErrorCode.GENERIC, error instanceof Error ? error.message : String(error));
      return 1;
    }
  }

  /** Stops the replication (StopReplicationRequest, the session's end, the archive's close). */
  abort(reason: string): void {
    if (this.currentState === 'DONE') return;
    this.finish(reason);
  }

  private step(pending: Outcome | null, nowNs: number): number {
    switch (this.currentState) {
      case 'CONNECT':
        if (pending === null) {
          const options: ArchiveClientOptions = {
            controlRequestChannel: this.r.srcControlChannel,
            controlRequestStreamId: this.r.srcControlStreamId,
            messageTimeoutMs: this.r.messageTimeoutNs / 1e6,
            clientName: `skein replicationId=${this.replicationId}`,
            ...(this.r.srcResponseChannel !== '' ? { controlResponseChannel: this.r.srcResponseChannel } : {}),
          };
          this.track(this.host.connectSource(options), nowNs);
          return 1;
        }
        this.src = pending.value as ArchiveClient;
        return this.next('REPLICATE_DESCRIPTOR', nowNs);

      case 'REPLICATE_DESCRIPTOR':
        if (pending === null) {
          this.track(this.src!.listRecording(this.r.srcRecordingId), nowNs);
          return 1;
        }
        return this.onDescriptor(pending.value as RecordingDescriptor | null, nowNs);

      case 'SRC_RECORDING_POSITION':
        if (pending === null) {
          this.track(this.src!.getRecordingPosition(this.r.srcRecordingId), nowNs);
          return 1;
        }
        this.srcRecordingPosition = pending.value as number;
        if (this.srcRecordingPosition === NULL_VALUE) return this.fail(ArchiveErrorCode.GENERIC, 'cannot live merge without active source recording');
        return this.next('EXTEND', nowNs);

      case 'EXTEND':
        if (pending === null) {
          const channel = ChannelUri.parse(this.r.replicationChannel).withParam('rejoin', 'false').withParam('session-id', String(this.replaySessionId));
          const recordChannel = this.isMds
            ? channel.withoutParam('endpoint').withParam('tags', `${this.channelTagId},${this.subscriptionTagId}`).withParam('control-mode', 'manual')
            : channel;
          this.track(this.host.extendForReplication(this.r.link, this.replicationId, this.dstRecordingId, this.replayStreamId, recordChannel.toString()), nowNs);
          return 1;
        }
        this.recordingSubscription = pending.value as Subscription;
        if (this.isMds) {
          const endpoint = ChannelUri.parse(this.r.replicationChannel).get('endpoint')!;
          this.replayDestination = `aeron:udp?endpoint=${endpoint}`;
          this.track(this.recordingSubscription.addDestination(this.replayDestination), nowNs);
          this.currentState = 'REPLAY';
          return 1;
        }
        return this.next('REPLAY', nowNs);

      case 'REPLAY': {
        if (pending === null || typeof pending.value !== 'bigint') {
          const subscription = this.recordingSubscription!;
          const endpoint = ChannelUri.parse(this.isMds ? this.replayDestination! : subscription.resolvedChannel).get('endpoint')!;
          let channel = ChannelUri.parse(this.r.replicationChannel).withParam('endpoint', endpoint).withParam('session-id', String(this.replaySessionId));
          if (this.r.liveDestination !== '') channel = channel.withParam('linger', '0').withParam('eos', 'false');
          const length = this.r.stopPosition === NULL_VALUE ? -1 : this.r.stopPosition - this.replayPosition;
          const options = this.r.fileIoMaxLength > 0 ? { fileIoMaxLength: this.r.fileIoMaxLength } : {};
          this.track(this.src!.replay(this.r.srcRecordingId, this.replayPosition, length, channel.toString(), this.replayStreamId, options), nowNs);
          return 1;
        }
        this.srcReplaySessionId = pending.value as bigint;
        return this.next('AWAIT_IMAGE', nowNs);
      }

      case 'AWAIT_IMAGE': {
        const image = this.recordingSubscription!.imageBySessionId(Number(this.srcReplaySessionId! & 0xffffffffn) | 0);
        if (image !== undefined) {
          this.image = image;
          return this.next(this.r.liveDestination === '' ? 'REPLICATE' : 'CATCHUP', nowNs);
        }
        if (nowNs >= this.actionDeadlineNs) {
          return this.fail(ArchiveErrorCode.GENERIC, `no replay image for sessionId=${Number(this.srcReplaySessionId! & 0xffffffffn) | 0} on channel=${this.recordingSubscription!.channel} within ${this.r.messageTimeoutNs / 1e6} ms`);
        }
        return 0;
      }

      case 'REPLICATE': {
        const image = this.image!;
        const position = image.position;
        const synced = this.srcStopPosition !== NULL_VALUE && position >= this.srcStopPosition;
        if (synced || (this.r.stopPosition !== NULL_VALUE && position >= this.r.stopPosition) || image.isEndOfStream || image.isClosed) {
          if (synced) this.signal(position, RecordingSignal.SYNC);
          this.srcReplaySessionId = null;
          this.finish(synced ? 'sync' : 'done');
          return 1;
        }
        return 0;
      }

      case 'CATCHUP': {
        const image = this.image!;
        if (image.position >= this.srcRecordingPosition) return this.next('ATTEMPT_LIVE_JOIN', nowNs);
        if (image.isClosed) return this.fail(ArchiveErrorCode.GENERIC, 'replication image closed unexpectedly');
        return 0;
      }

      case 'ATTEMPT_LIVE_JOIN': {
        if (pending === null || typeof pending.value !== 'number') {
          this.track(this.src!.getRecordingPosition(this.r.srcRecordingId), nowNs);
          return 1;
        }
        this.retries = RETRY_ATTEMPTS;
        this.srcRecordingPosition = pending.value;
        if (this.srcRecordingPosition === NULL_VALUE) return this.fail(ArchiveErrorCode.GENERIC, 'cannot live merge without active source recording');
        const image = this.image!;
        const position = image.position;
        const distance = this.srcRecordingPosition - position;
        if (!this.liveAdded && distance <= Math.min(image.termBufferLength >> 2, LIVE_ADD_MAX_WINDOW)) {
          this.liveAdded = true;
          this.track(this.recordingSubscription!.addDestination(this.r.liveDestination), nowNs);
          this.currentState = 'CATCHUP';
          return 1;
        }
        if (this.liveAdded && distance <= 0 && image.activeTransportCount >= 2) {
          const subscription = this.recordingSubscription!;
          subscription.removeDestination(this.replayDestination!).catch(() => {});
          this.replayDestination = null;
          this.signal(position, RecordingSignal.MERGE);
          // The recording goes on from the live stream: it is no longer this session's to stop.
          this.recordingSubscription = null;
          this.finish('merge');
          return 1;
        }
        this.currentState = 'CATCHUP';
        return 1;
      }

      default:
        return 0;
    }
  }

  private onDescriptor(d: RecordingDescriptor | null, nowNs: number): number {
    if (d === null) return this.fail(ArchiveErrorCode.UNKNOWN_RECORDING, `unknown src recording id ${this.r.srcRecordingId}`);
    this.srcStopPosition = d.stopPosition;
    this.replayStreamId = d.streamId;
    this.replaySessionId = this.r.liveDestination === '' && this.r.replicationSessionId !== NULL_VALUE && this.r.replicationSessionId !== -2147483648 ? this.r.replicationSessionId : d.sessionId;
    if (this.r.fileIoMaxLength > 0 && this.r.fileIoMaxLength < d.mtuLength) {
      return this.fail(ArchiveErrorCode.GENERIC, `Replication fileIoMaxLength (${this.r.fileIoMaxLength}) is less than the recording mtuLength (${d.mtuLength})`);
    }
    if (this.dstRecordingId === NULL_VALUE) {
      this.replayPosition = d.startPosition;
      this.dstRecordingId = this.host.addReplicatedRecording(d, this.r.link, this.replicationId);
      this.signal(d.startPosition, RecordingSignal.REPLICATE);
    }
    let next: ReplicationState = 'EXTEND';
    if (this.r.liveDestination !== '') {
      if (d.stopPosition !== NULL_VALUE) return this.fail(ArchiveErrorCode.GENERIC, 'cannot live merge without active source recording');
      next = 'SRC_RECORDING_POSITION';
    }
    if (d.startPosition === d.stopPosition || (d.stopPosition !== NULL_VALUE && d.stopPosition === this.replayPosition)) {
      this.signal(d.stopPosition, RecordingSignal.SYNC);
      this.finish('in sync');
      return 1;
    }
    return this.next(next, nowNs);
  }

  private next(state: ReplicationState, nowNs: number): number {
    this.currentState = state;
    this.actionDeadlineNs = nowNs + this.r.messageTimeoutNs;
    return 1;
  }

  private track(promise: Promise<unknown>, nowNs: number): void {
    const outcome: Outcome = { done: false, value: undefined, error: undefined };
    this.pending = outcome;
    this.actionDeadlineNs = nowNs + this.r.messageTimeoutNs;
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

  private onStepFailed(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (this.currentState === 'CONNECT') {
      this.fail(ArchiveErrorCode.REPLICATION_CONNECTION_FAILURE, `Replication connection failed=${message}`);
      return;
    }
    if (this.currentState === 'ATTEMPT_LIVE_JOIN' && error instanceof SkeinError && error.code === ErrorCode.TIMEOUT && --this.retries > 0) return;
    const code = (error as { archiveErrorCode?: number }).archiveErrorCode;
    this.fail(typeof code === 'number' ? (code as ArchiveErrorCode) : ArchiveErrorCode.GENERIC, `replication ${this.replicationId} of recording ${this.r.srcRecordingId} failed in state ${this.currentState}: ${message}`);
  }

  private fail(code: ArchiveErrorCode, message: string): number {
    this.r.link.sendError(this.replicationId, code, message);
    this.finish(message);
    return 1;
  }

  /** Releases everything the replication holds and signals REPLICATE_END; once. */
  private finish(_reason: string): void {
    if (this.currentState === 'DONE') return;
    this.currentState = 'DONE';
    this.pending = null;
    const subscription = this.recordingSubscription;
    if (subscription !== null && !subscription.isClosed) this.host.closeRecordingSubscription(subscription.registrationId);
    const src = this.src;
    if (src !== null) {
      const replay = this.srcReplaySessionId;
      const close = (): void => void src.close().catch(() => {});
      if (replay !== null) src.stopReplay(replay).then(close, close);
      else close();
    }
    this.signal(NULL_VALUE, RecordingSignal.REPLICATE_END);
    this.recordingSubscription = null;
    this.host.onReplicationDone(this);
  }

  private signal(position: number, signal: RecordingSignal): void {
    const subscriptionId = this.recordingSubscription?.registrationId ?? NULL_VALUE;
    this.r.link.sendSignal(this.replicationId, this.dstRecordingId, subscriptionId, position, signal);
  }
}
