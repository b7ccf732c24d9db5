/**
 * A client of an archive (Skein's or Aeron's) over its control protocol (ARCHIVE.md §3.2, §4, §14).
 *
 * Connecting is a state machine with one deadline: add the request publication (its driver-unique
 * session id isolates this client: the response channel carries `session-id=` of it, so the
 * archive's response publication reaches this client's subscription alone), add the response
 * subscription, wait for both, send AuthConnectRequest, wait for the OK with the control session
 * id, ask the archive id, send a keepalive. Then the client keeps its session by itself on the
 * client's duty cycle: it takes every response as it comes (pings included), so a client that
 * makes no calls for hours keeps its session. Requests are promises matched by correlation id;
 * an archive error rejects with ERR_SKEIN_ARCHIVE_REQUEST_FAILED carrying Aeron's error code.
 * `close()` always sends CloseSessionRequest and then releases everything.
 */
import type { SkeinClient } from '../client/skein-client.js';
import type { Subscription } from '../client/subscription.js';
import type { Publication } from '../client/publication.js';
import type { Agent } from '../agent/agent.js';
import type { Implements } from '../util/implements.js';
import { FragmentAssembler } from '../logbuffer/fragment-assembler.js';
import { ChannelUri } from '../protocol/channel-uri.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import * as codecs from './codecs/archive-codecs.js';
import type { RecordingDescriptor } from './catalog-layout.js';
import { ARCHIVE_PROTOCOL_VERSION } from './control-session.js';
import type { SourceLocation } from './archive-codes.js';

export type ArchiveClientState = 'CONNECTING' | 'CONNECTED' | 'DISCONNECTED' | 'CLOSED';

export interface ArchiveClientOptions {
  /** @default `aeron:udp?endpoint=localhost:8010` */
  controlRequestChannel?: string;
  /** @default 10 */
  controlRequestStreamId?: number;
  /** @default `aeron:udp?endpoint=localhost:0` (the port is resolved before it is sent) */
  controlResponseChannel?: string;
  /** @default 20 */
  controlResponseStreamId?: number;
  /** Deadline of the connect and of every request (a listing's restarts with each item). @default 10000 */
  messageTimeoutMs?: number;
  /** Put in the connect request's clientInfo. @default 'skein' */
  clientName?: string;
  /** Recording signals for this session (START, STOP, EXTEND, ...). */
  onRecordingSignal?: (signal: RecordingSignalEvent) => void;
  /** Errors no pending call can take (an archive error for a request already answered, a lost session). */
  onError?: (error: SkeinError) => void;
}

export interface RecordingSignalEvent {
  readonly correlationId: number;
  readonly recordingId: number;
  readonly subscriptionId: number;
  readonly position: number;
  readonly signal: 'START' | 'STOP' | 'EXTEND' | 'REPLICATE' | 'MERGE' | 'SYNC' | 'DELETE' | 'REPLICATE_END';
}

/** The optional parts of a replicate request (ARCHIVE.md §7.5); -1 or empty where not given. */
export interface ReplicateOptions {
  /** A stopped recording of this archive to continue; -1 (default) creates a new one. */
  readonly dstRecordingId?: number;
  /** Stop at this source position; -1 (default): when the source stops. */
  readonly stopPosition?: number;
  /** After catching up, merge with the live stream arriving at this destination (the source must be recording). */
  readonly liveDestination?: string;
  /** Tagged replication: the recording subscription's tags (each -1 = the replication id). */
  readonly channelTagId?: number;
  readonly subscriptionTagId?: number;
  /** Where the source replays to; empty: the destination archive's replicationChannel. */
  readonly replicationChannel?: string;
  readonly fileIoMaxLength?: number;
  readonly replicationSessionId?: number;
  /** Response channel of the connection to the source; empty: the archive's replicationResponseChannel. */
  readonly srcResponseChannel?: string;
}

export interface RecordingSubscriptionDescriptor {
  readonly subscriptionId: number;
  readonly streamId: number;
  readonly strippedChannel: string;
}

/** An error the archive sent back: `archiveErrorCode` is Aeron's (ARCHIVE.md §5). */
export class ArchiveRequestError extends SkeinError {
  constructor(
    message: string,
    readonly archiveErrorCode: number,
    subject: { channel: string; streamId: number; correlationId: number },
  ) {
    super(ErrorCode.ARCHIVE_REQUEST_FAILED, message, subject);
  }
}

const SIGNAL_NAMES = ['START', 'STOP', 'EXTEND', 'REPLICATE', 'MERGE', 'SYNC', 'DELETE', 'REPLICATE_END'] as const;
const ERROR_NAMES = [
  'GENERIC', 'ACTIVE_LISTING', 'ACTIVE_RECORDING', 'ACTIVE_SUBSCRIPTION', 'UNKNOWN_SUBSCRIPTION', 'UNKNOWN_RECORDING', 'UNKNOWN_REPLAY', 'MAX_REPLAYS',
  'MAX_RECORDINGS', 'INVALID_EXTENSION', 'AUTHENTICATION_REJECTED', 'STORAGE_SPACE', 'UNKNOWN_REPLICATION', 'UNAUTHORISED_ACTION', 'REPLICATION_CONNECTION_FAILURE',
  'EMPTY_RECORDING', 'INVALID_POSITION',
];
const OFFER_ATTEMPTS = 3;
/** How long close() waits for the archive to end the session before it releases everything anyway. */
const CLOSE_WAIT_NS = 1_000_000_000;

type Kind = 'position' | 'replay' | 'descriptors' | 'descriptor' | 'subscriptions';

interface Pending {
  readonly what: string;
  readonly kind: Kind;
  deadlineNs: number;
  readonly expected: number;
  readonly items: unknown[];
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

type ConnectStep = 'AWAIT_PUBLICATIONS' | 'AWAIT_CONNECTED' | 'SEND_CONNECT' | 'AWAIT_CONNECT_RESPONSE' | 'AWAIT_ARCHIVE_ID' | 'DONE';

export class ArchiveClient {
  readonly roleName = 'archive-client';
  private readonly client: SkeinClient;
  private readonly requestChannel: string;
  private readonly requestStreamId: number;
  private responseChannel: string;
  private readonly responseStreamId: number;
  private readonly timeoutNs: number;
  private readonly clientName: string;
  private readonly onRecordingSignal: ((signal: RecordingSignalEvent) => void) | undefined;
  private readonly onError: (error: SkeinError) => void;
  private publication: Publication | null = null;
  private subscription: Subscription | null = null;
  private clientState: ArchiveClientState = 'CONNECTING';
  private step: ConnectStep = 'AWAIT_PUBLICATIONS';
  private connectDeadlineNs = 0;
  private connectCorrelationId = 0;
  private archiveIdCorrelationId = 0;
  private connectResolve: ((client: ArchiveClient) => void) | null = null;
  private connectReject: ((error: Error) => void) | null = null;
  private sessionId = -1;
  private closing: { promise: Promise<void>; resolve: () => void; deadlineNs: number } | null = null;
  private nextCorrelationId: number;
  private readonly pending = new Map<number, Pending>();
  private readonly buffer = new Uint8Array(4096);
  private readonly assembler: FragmentAssembler;
  private readonly header = new codecs.MessageHeaderDecoder();
  private readonly response = new codecs.ControlResponseDecoder();
  private readonly descriptorDecoder = new codecs.RecordingDescriptorDecoder();
  private readonly subscriptionDescriptorDecoder = new codecs.RecordingSubscriptionDescriptorDecoder();
  private readonly signalDecoder = new codecs.RecordingSignalEventDecoder();
  /** The archive's id for this session; -1 until connected. */
  controlSessionId = -1;
  /** The archive's id (ArchiveIdRequest); -1 for archives before protocol 1.11. */
  archiveId = -1;
  /** The archive's protocol version. */
  archiveVersion = 0;

  private constructor(client: SkeinClient, options: ArchiveClientOptions) {
    this.client = client;
    this.requestChannel = options.controlRequestChannel ?? 'aeron:udp?endpoint=localhost:8010';
    this.requestStreamId = options.controlRequestStreamId ?? 10;
    this.responseChannel = options.controlResponseChannel ?? 'aeron:udp?endpoint=localhost:0';
    this.responseStreamId = options.controlResponseStreamId ?? 20;
    const timeoutMs = options.messageTimeoutMs ?? 10_000;
    if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new SkeinError(ErrorCode.CONFIG_INVALID, `messageTimeoutMs=${String(timeoutMs)} is invalid; expected a number > 0`);
    this.timeoutNs = timeoutMs * 1e6;
    this.clientName = options.clientName ?? 'skein';
    this.onRecordingSignal = options.onRecordingSignal;
    this.onError = options.onError ?? ((error) => client.reportError(error));
    this.nextCorrelationId = (client.clientId % 0x10000) * 0x10000 + 1;
    this.assembler = new FragmentAssembler((buffer: Uint8Array, offset: number, length: number) => this.onMessage(buffer, offset, length));
  }

  /** Connects to an archive; rejects with ERR_SKEIN_TIMEOUT naming the step and both channels after messageTimeoutMs. */
  static connect(client: SkeinClient, options: ArchiveClientOptions = {}): Promise<ArchiveClient> {
    const archive = new ArchiveClient(client, options);
    return new Promise<ArchiveClient>((resolve, reject) => {
      archive.connectResolve = resolve;
      archive.connectReject = reject;
      archive.connectDeadlineNs = client.nanoTime() + archive.timeoutNs;
      client.addAgent(archive);
      void archive.addPublications();
    });
  }

  get state(): ArchiveClientState {
    return this.clientState;
  }

  // ---------------------------------------------------------------------------------------------
  // Requests

  /** Starts recording `channel`/`streamId`; resolves to the recording subscription's id. */
  startRecording(channel: string, streamId: number, sourceLocation: SourceLocation = 'REMOTE', autoStop = false): Promise<number> {
    return this.request(`startRecording ${channel} ${streamId}`, 'position', (e, id) =>
      new codecs.StartRecordingRequest2Encoder().wrapAndApplyHeader(e, 0).controlSessionId(this.controlSessionId).correlationId(id).streamId(streamId)
        .sourceLocation(sourceLocation === 'LOCAL' ? codecs.SourceLocation.LOCAL : codecs.SourceLocation.REMOTE).autoStop(autoStop ? codecs.BooleanType.TRUE : codecs.BooleanType.FALSE)
        .channel(channel).encodedLength(),
    ) as Promise<number>;
  }

  stopRecording(channel: string, streamId: number): Promise<void> {
    return this.request(`stopRecording ${channel} ${streamId}`, 'position', (e, id) =>
      new codecs.StopRecordingRequestEncoder().wrapAndApplyHeader(e, 0).controlSessionId(this.controlSessionId).correlationId(id).streamId(streamId).channel(channel).encodedLength(),
    ).then(() => undefined);
  }

  stopRecordingSubscription(subscriptionId: number): Promise<void> {
    return this.request(`stopRecordingSubscription ${subscriptionId}`, 'position', (e, id) =>
      new codecs.StopRecordingSubscriptionRequestEncoder().wrapAndApplyHeader(e, 0).controlSessionId(this.controlSessionId).correlationId(id).subscriptionId(subscriptionId).encodedLength(),
    ).then(() => undefined);
  }

  /** Resolves to true when a recording was active and is now stopped. */
  stopRecordingByIdentity(recordingId: number): Promise<boolean> {
    return this.request(`stopRecordingByIdentity ${recordingId}`, 'position', (e, id) =>
      new codecs.StopRecordingByIdentityRequestEncoder().wrapAndApplyHeader(e, 0).controlSessionId(this.controlSessionId).correlationId(id).recordingId(recordingId).encodedLength(),
    ).then((v) => v === 1);
  }

  extendRecording(recordingId: number, channel: string, streamId: number, sourceLocation: SourceLocation = 'REMOTE', autoStop = false): Promise<number> {
    return this.request(`extendRecording ${recordingId}`, 'position', (e, id) =>
      new codecs.ExtendRecordingRequest2Encoder().wrapAndApplyHeader(e, 0).controlSessionId(this.controlSessionId).correlationId(id).recordingId(recordingId).streamId(streamId)
        .sourceLocation(sourceLocation === 'LOCAL' ? codecs.SourceLocation.LOCAL : codecs.SourceLocation.REMOTE).autoStop(autoStop ? codecs.BooleanType.TRUE : codecs.BooleanType.FALSE)
        .channel(channel).encodedLength(),
    ) as Promise<number>;
  }

  /**
   * Replays `recordingId` from `position` (-1: its start) for `length` bytes (-1: all, following
   * a live recording; -2: what there is now) to `replayChannel`/`replayStreamId`; resolves to the
   * replay session id, whose low 32 bits are the replay's session id (subscribe with
   * `session-id=` of it). With `limitCounterId` the replay never passes that counter's value.
   */
  replay(recordingId: number, position: number, length: number, replayChannel: string, replayStreamId: number, options: { limitCounterId?: number; fileIoMaxLength?: number } = {}): Promise<bigint> {
    const fileIoMaxLength = options.fileIoMaxLength ?? 0;
    return this.request(`replay ${recordingId}`, 'replay', (e, id) =>
      options.limitCounterId === undefined
        ? new codecs.ReplayRequestEncoder().wrapAndApplyHeader(e, 0).controlSessionId(this.controlSessionId).correlationId(id).recordingId(recordingId).position(position).length(length)
            .replayStreamId(replayStreamId).fileIoMaxLength(fileIoMaxLength).replayToken(-1).replayChannel(replayChannel).encodedLength()
        : new codecs.BoundedReplayRequestEncoder().wrapAndApplyHeader(e, 0).controlSessionId(this.controlSessionId).correlationId(id).recordingId(recordingId).position(position).length(length)
            .limitCounterId(options.limitCounterId).replayStreamId(replayStreamId).fileIoMaxLength(fileIoMaxLength).replayToken(-1).replayChannel(replayChannel).encodedLength(),
    ) as Promise<bigint>;
  }

  stopReplay(replaySessionId: bigint): Promise<void> {
    return this.request(`stopReplay ${replaySessionId}`, 'position', (e, id) =>
      new codecs.StopReplayRequestEncoder().wrapAndApplyHeader(e, 0).controlSessionId(this.controlSessionId).correlationId(id).replaySessionId(replaySessionId).encodedLength(),
    ).then(() => undefined);
  }

  /**
   * Asks this archive to replicate recording `srcRecordingId` of the archive at
   * `srcControlChannel`/`srcControlStreamId` (ReplicateRequest2); resolves to the replication id.
   * Progress comes as recording signals with the replication id as correlation id: REPLICATE
   * (new destination recording), EXTEND, SYNC (caught up with a stopped source), MERGE (joined
   * the live stream at `liveDestination`), STOP, and REPLICATE_END last. A failure after the
   * answer comes to `onError` as an archive error naming the replication.
   */
  replicate(srcRecordingId: number, srcControlStreamId: number, srcControlChannel: string, options: ReplicateOptions = {}): Promise<number> {
    return this.request(`replicate ${srcRecordingId}`, 'position', (e, id) =>
      new codecs.ReplicateRequest2Encoder().wrapAndApplyHeader(e, 0).controlSessionId(this.controlSessionId).correlationId(id).srcRecordingId(srcRecordingId)
        .dstRecordingId(options.dstRecordingId ?? -1).stopPosition(options.stopPosition ?? -1).channelTagId(options.channelTagId ?? -1)
        .subscriptionTagId(options.subscriptionTagId ?? -1).srcControlStreamId(srcControlStreamId).fileIoMaxLength(options.fileIoMaxLength ?? -1)
        .replicationSessionId(options.replicationSessionId ?? -1).srcControlChannel(srcControlChannel).liveDestination(options.liveDestination ?? '')
        .replicationChannel(options.replicationChannel ?? '').encodedCredentials(new Uint8Array(0)).srcResponseChannel(options.srcResponseChannel ?? '').encodedLength(),
    ) as Promise<number>;
  }

  /** Stops a replication; rejects with archive error UNKNOWN_REPLICATION (12) for an id the archive does not know. */
  stopReplication(replicationId: number): Promise<void> {
    return this.request(`stopReplication ${replicationId}`, 'position', (e, id) =>
      new codecs.StopReplicationRequestEncoder().wrapAndApplyHeader(e, 0).controlSessionId(this.controlSessionId).correlationId(id).replicationId(replicationId).encodedLength(),
    ).then(() => undefined);
  }

  /** Descriptors of up to `count` recordings from `fromRecordingId`. */
  listRecordings(fromRecordingId: number, count: number): Promise<RecordingDescriptor[]> {
    return this.request(`listRecordings ${fromRecordingId} ${count}`, 'descriptors', (e, id) =>
      new codecs.ListRecordingsRequestEncoder().wrapAndApplyHeader(e, 0).controlSessionId(this.controlSessionId).correlationId(id).fromRecordingId(fromRecordingId).recordCount(count).encodedLength(),
      count,
    ) as Promise<RecordingDescriptor[]>;
  }

  listRecordingsForUri(fromRecordingId: number, count: number, channelFragment: string, streamId: number): Promise<RecordingDescriptor[]> {
    return this.request(`listRecordingsForUri ${channelFragment} ${streamId}`, 'descriptors', (e, id) =>
      new codecs.ListRecordingsForUriRequestEncoder().wrapAndApplyHeader(e, 0).controlSessionId(this.controlSessionId).correlationId(id).fromRecordingId(fromRecordingId).recordCount(count)
        .streamId(streamId).channel(channelFragment).encodedLength(),
      count,
    ) as Promise<RecordingDescriptor[]>;
  }

  /** One recording's descriptor, or null when the archive does not know it. */
  listRecording(recordingId: number): Promise<RecordingDescriptor | null> {
    return this.request(`listRecording ${recordingId}`, 'descriptor', (e, id) =>
      new codecs.ListRecordingRequestEncoder().wrapAndApplyHeader(e, 0).controlSessionId(this.controlSessionId).correlationId(id).recordingId(recordingId).encodedLength(),
      1,
    ) as Promise<RecordingDescriptor | null>;
  }

  listRecordingSubscriptions(pseudoIndex: number, count: number, channelFragment: string, streamId: number, applyStreamId: boolean): Promise<RecordingSubscriptionDescriptor[]> {
    return this.request('listRecordingSubscriptions', 'subscriptions', (e, id) =>
      new codecs.ListRecordingSubscriptionsRequestEncoder().wrapAndApplyHeader(e, 0).controlSessionId(this.controlSessionId).correlationId(id).pseudoIndex(pseudoIndex).subscriptionCount(count)
        .applyStreamId(applyStreamId ? codecs.BooleanType.TRUE : codecs.BooleanType.FALSE).streamId(streamId).channel(channelFragment).encodedLength(),
      count,
    ) as Promise<RecordingSubscriptionDescriptor[]>;
  }

  /** The position an active recording has reached, or -1 when it is not recording. */
  getRecordingPosition(recordingId: number): Promise<number> {
    return this.positionRequest('getRecordingPosition', recordingId, codecs.RecordingPositionRequestEncoder);
  }

  getStopPosition(recordingId: number): Promise<number> {
    return this.positionRequest('getStopPosition', recordingId, codecs.StopPositionRequestEncoder);
  }

  getStartPosition(recordingId: number): Promise<number> {
    return this.positionRequest('getStartPosition', recordingId, codecs.StartPositionRequestEncoder);
  }

  getMaxRecordedPosition(recordingId: number): Promise<number> {
    return this.positionRequest('getMaxRecordedPosition', recordingId, codecs.MaxRecordedPositionRequestEncoder);
  }

  /** The newest recording from `minRecordingId` of `sessionId`/`streamId` whose channel contains `channelFragment`, or -1. */
  findLastMatchingRecording(minRecordingId: number, channelFragment: string, streamId: number, sessionId: number): Promise<number> {
    return this.request('findLastMatchingRecording', 'position', (e, id) =>
      new codecs.FindLastMatchingRecordingRequestEncoder().wrapAndApplyHeader(e, 0).controlSessionId(this.controlSessionId).correlationId(id).minRecordingId(minRecordingId)
        .sessionId(sessionId).streamId(streamId).channel(channelFragment).encodedLength(),
    ) as Promise<number>;
  }

  /** Cuts a stopped recording back to `position`; resolves to the number of segment files deleted. */
  truncateRecording(recordingId: number, position: number): Promise<number> {
    return this.request(`truncateRecording ${recordingId} ${position}`, 'position', (e, id) =>
      new codecs.TruncateRecordingRequestEncoder().wrapAndApplyHeader(e, 0).controlSessionId(this.controlSessionId).correlationId(id).recordingId(recordingId).position(position).encodedLength(),
    ) as Promise<number>;
  }

  /** Deletes a stopped recording and its files; resolves to the number of segment files deleted. */
  purgeRecording(recordingId: number): Promise<number> {
    return this.positionRequest('purgeRecording', recordingId, codecs.PurgeRecordingRequestEncoder);
  }

  /** Moves a recording's start to a later segment boundary (the files stay until deleted). */
  detachSegments(recordingId: number, newStartPosition: number): Promise<void> {
    return this.request(`detachSegments ${recordingId} ${newStartPosition}`, 'position', (e, id) =>
      new codecs.DetachSegmentsRequestEncoder().wrapAndApplyHeader(e, 0).controlSessionId(this.controlSessionId).correlationId(id).recordingId(recordingId).newStartPosition(newStartPosition).encodedLength(),
    ).then(() => undefined);
  }

  /** Deletes segment files before a recording's start; resolves to how many. */
  deleteDetachedSegments(recordingId: number): Promise<number> {
    return this.positionRequest('deleteDetachedSegments', recordingId, codecs.DeleteDetachedSegmentsRequestEncoder);
  }

  /** Detaches and deletes segments before `newStartPosition`; resolves to how many files were deleted. */
  purgeSegments(recordingId: number, newStartPosition: number): Promise<number> {
    return this.request(`purgeSegments ${recordingId} ${newStartPosition}`, 'position', (e, id) =>
      new codecs.PurgeSegmentsRequestEncoder().wrapAndApplyHeader(e, 0).controlSessionId(this.controlSessionId).correlationId(id).recordingId(recordingId).newStartPosition(newStartPosition).encodedLength(),
    ) as Promise<number>;
  }

  /** Moves a recording's start back over segment files still before it; resolves to how many. */
  attachSegments(recordingId: number): Promise<number> {
    return this.positionRequest('attachSegments', recordingId, codecs.AttachSegmentsRequestEncoder);
  }

  /** Moves the segments of `srcRecordingId` into `dstRecordingId`, which they must continue or precede; resolves to how many. */
  migrateSegments(srcRecordingId: number, dstRecordingId: number): Promise<number> {
    return this.request(`migrateSegments ${srcRecordingId} ${dstRecordingId}`, 'position', (e, id) =>
      new codecs.MigrateSegmentsRequestEncoder().wrapAndApplyHeader(e, 0).controlSessionId(this.controlSessionId).correlationId(id).srcRecordingId(srcRecordingId).dstRecordingId(dstRecordingId).encodedLength(),
    ) as Promise<number>;
  }

  /**
   * Ends the session: sends CloseSessionRequest (always, when the request publication is there),
   * then closes the publication and subscription and stops polling. Pending calls reject with
   * ERR_SKEIN_CLOSED. Idempotent; on a DISCONNECTED client it only marks it CLOSED.
   */
  async close(): Promise<void> {
    if (this.clientState === 'CLOSED') return;
    if (this.clientState === 'DISCONNECTED') {
      // The session is gone and everything was released when it went.
      this.clientState = 'CLOSED';
      return;
    }
    if (this.closing !== null) return this.closing.promise;
    const publication = this.publication;
    if (publication === null || this.controlSessionId === -1 || this.subscription === null) {
      this.end('CLOSED', new SkeinError(ErrorCode.CLOSED, 'the archive client was closed', this.subject()));
      return;
    }
    const length = new codecs.CloseSessionRequestEncoder().wrapAndApplyHeader(this.buffer, 0).controlSessionId(this.controlSessionId).encodedLength();
    for (let i = 0; i < OFFER_ATTEMPTS && publication.offer(this.buffer, 0, length) < 0; i++);
    // The request publication drains on close; the response subscription stays until the archive
    // has ended the session (its response stream goes) or a bounded wait passes, so that the
    // archive sees the close request rather than a lost client.
    publication.close();
    let resolve: () => void = () => {};
    const promise = new Promise<void>((r) => (resolve = r));
    this.closing = { promise, resolve, deadlineNs: this.client.nanoTime() + CLOSE_WAIT_NS };
    for (const p of this.pending.values()) p.reject(new SkeinError(ErrorCode.CLOSED, 'the archive client was closed', this.subject()));
    this.pending.clear();
    return promise;
  }

  // ---------------------------------------------------------------------------------------------

  /** @internal */
  doWork(nowNs: number): number {
    if (this.clientState === 'CLOSED') return 0;
    const closing = this.closing;
    if (closing !== null) {
      const polled = this.subscription?.poll(this.assembler.onFragment, 16) ?? 0;
      if (nowNs >= closing.deadlineNs || !(this.subscription?.images.some((i) => i.sessionId === this.sessionId) ?? false)) {
        this.closing = null;
        this.end('CLOSED', new SkeinError(ErrorCode.CLOSED, 'the archive client was closed', this.subject()));
        closing.resolve();
        return 1;
      }
      // Waiting for the archive to end the session is not work: the runner may idle meanwhile
      // (counting it as work kept a core busy for the whole wait).
      return polled;
    }
    let work = 0;
    if (this.clientState === 'CONNECTING') work += this.connectStep(nowNs);
    const subscription = this.subscription;
    if (subscription !== null) work += subscription.poll(this.assembler.onFragment, 16);
    if (this.clientState === 'CONNECTED' && subscription !== null && this.sessionId !== -1 && !subscription.images.some((i) => i.sessionId === this.sessionId)) {
      this.end('DISCONNECTED', new SkeinError(ErrorCode.NOT_CONNECTED, `the archive's response stream went away: session ${this.controlSessionId} ended`, { ...this.subject(), state: 'DISCONNECTED' }));
      return work + 1;
    }
    for (const [correlationId, p] of this.pending) {
      if (nowNs < p.deadlineNs) continue;
      this.pending.delete(correlationId);
      p.reject(new SkeinError(ErrorCode.TIMEOUT, `archive did not answer ${p.what} within messageTimeoutMs=${this.timeoutNs / 1e6}`, { ...this.subject(), correlationId, timeoutMs: this.timeoutNs / 1e6 }));
      work++;
    }
    return work;
  }

  /** @internal */
  onClose(): void {
    if (this.clientState === 'CONNECTING' || this.clientState === 'CONNECTED') this.end('CLOSED', new SkeinError(ErrorCode.CLOSED, 'the client under the archive client closed', this.subject()));
    const closing = this.closing;
    this.closing = null;
    closing?.resolve();
  }

  private subject(): { channel: string; streamId: number } {
    return { channel: this.responseChannel, streamId: this.responseStreamId };
  }

  private async addPublications(): Promise<void> {
    try {
      const publication = await this.client.addExclusivePublication(this.requestChannel, this.requestStreamId);
      this.publication = publication;
      this.sessionId = publication.sessionId;
      const response = ChannelUri.parse(this.responseChannel);
      const isolated = response.get('control-mode') === 'response' || response.has('session-id') ? this.responseChannel : response.withParam('session-id', String(publication.sessionId)).toString();
      if (response.has('session-id')) this.sessionId = Number(response.get('session-id'));
      const subscription = await this.client.addSubscription(isolated, this.responseStreamId);
      this.subscription = subscription;
      this.responseChannel = ChannelUri.parse(subscription.resolvedChannel).withParam('session-id', String(this.sessionId)).toString();
      if (this.clientState === 'CONNECTING') this.step = 'AWAIT_CONNECTED';
      else {
        publication.close();
        subscription.close();
      }
    } catch (error) {
      this.failConnect(error instanceof SkeinError ? error : new SkeinError(ErrorCode.DRIVER_COMMAND_FAILED, String(error), { cause: error }));
    }
  }

  private connectStep(nowNs: number): number {
    if (nowNs >= this.connectDeadlineNs) {
      this.failConnect(
        new SkeinError(ErrorCode.TIMEOUT, `archive connect timeout: step=${this.step} requestChannel=${this.requestChannel} requestStreamId=${this.requestStreamId} within messageTimeoutMs=${this.timeoutNs / 1e6}`, {
          ...this.subject(), timeoutMs: this.timeoutNs / 1e6, state: this.step,
        }),
      );
      return 1;
    }
    switch (this.step) {
      case 'AWAIT_CONNECTED':
        if (this.publication!.isConnected) this.step = 'SEND_CONNECT';
        return 0;
      case 'SEND_CONNECT': {
        this.connectCorrelationId = this.nextCorrelationId++;
        const length = new codecs.AuthConnectRequestEncoder()
          .wrapAndApplyHeader(this.buffer, 0)
          .correlationId(this.connectCorrelationId)
          .responseStreamId(this.responseStreamId)
          .version(ARCHIVE_PROTOCOL_VERSION)
          .responseChannel(this.responseChannel)
          .encodedCredentials(new Uint8Array(0))
          .clientInfo(`name=${this.clientName} version=skein`)
          .encodedLength();
        if (this.publication!.offer(this.buffer, 0, length) > 0) this.step = 'AWAIT_CONNECT_RESPONSE';
        return 1;
      }
      default:
        return 0;
    }
  }

  private onMessage(buffer: Uint8Array, offset: number, length: number): void {
    try {
      const h = this.header.wrap(buffer, offset, length);
      if (h.schemaId() !== codecs.SCHEMA_ID) throw new SkeinError(ErrorCode.PROTOCOL_INVALID, `archive response of schema ${h.schemaId()}; expected ${codecs.SCHEMA_ID}`, this.subject());
      const body = offset + codecs.HEADER_LENGTH;
      const bodyLength = length - codecs.HEADER_LENGTH;
      switch (h.templateId()) {
        case codecs.ControlResponseDecoder.TEMPLATE_ID:
          return this.onControlResponse(this.response.wrap(buffer, body, h.blockLength(), h.version(), bodyLength));
        case codecs.RecordingDescriptorDecoder.TEMPLATE_ID:
          return this.onDescriptor(this.descriptorDecoder.wrap(buffer, body, h.blockLength(), h.version(), bodyLength));
        case codecs.RecordingSubscriptionDescriptorDecoder.TEMPLATE_ID:
          return this.onSubscriptionDescriptor(this.subscriptionDescriptorDecoder.wrap(buffer, body, h.blockLength(), h.version(), bodyLength));
        case codecs.RecordingSignalEventDecoder.TEMPLATE_ID:
          return this.onSignal(this.signalDecoder.wrap(buffer, body, h.blockLength(), h.version(), bodyLength));
        default:
          // Pings and messages this client does not use: taking them is what keeps the session.
          return;
      }
    } catch (error) {
      this.onError(error instanceof SkeinError ? error : new SkeinError(ErrorCode.PROTOCOL_INVALID, String(error), this.subject()));
    }
  }

  private onControlResponse(r: codecs.ControlResponseDecoder): void {
    const correlationId = r.correlationIdAsNumber();
    const code = r.code();
    if (this.clientState === 'CONNECTING') {
      if (correlationId === this.connectCorrelationId && this.step === 'AWAIT_CONNECT_RESPONSE') {
        const controlSessionId = r.controlSessionIdAsNumber();
        if (code !== codecs.ControlResponseCode.OK) {
          const message = r.errorMessage();
          this.controlSessionId = controlSessionId;
          void this.close();
          this.failConnect(new ArchiveRequestError(`archive refused the connect: ${message}`, Number(r.relevantId()), { ...this.subject(), correlationId }));
          return;
        }
        this.controlSessionId = controlSessionId;
        this.archiveVersion = r.version();
        if (this.archiveVersion >= ((1 << 16) | (11 << 8))) {
          this.archiveIdCorrelationId = this.nextCorrelationId++;
          const length = new codecs.ArchiveIdRequestEncoder().wrapAndApplyHeader(this.buffer, 0).controlSessionId(controlSessionId).correlationId(this.archiveIdCorrelationId).encodedLength();
          this.step = 'AWAIT_ARCHIVE_ID';
          if (!this.offer(length)) this.failConnect(new SkeinError(ErrorCode.BACK_PRESSURED, 'could not send ArchiveIdRequest', this.subject()));
        } else {
          this.finishConnect();
        }
      } else if (correlationId === this.archiveIdCorrelationId && this.step === 'AWAIT_ARCHIVE_ID' && r.controlSessionIdAsNumber() === this.controlSessionId) {
        if (code === codecs.ControlResponseCode.OK) this.archiveId = Number(r.relevantId());
        this.finishConnect();
      }
      return;
    }
    if (r.controlSessionIdAsNumber() !== this.controlSessionId) return;
    const p = this.pending.get(correlationId);
    if (p === undefined) {
      if (code === codecs.ControlResponseCode.ERROR && correlationId !== this.connectCorrelationId) {
        this.onError(this.archiveError(`archive error for request ${correlationId}`, r, correlationId));
      }
      return;
    }
    if (code === codecs.ControlResponseCode.OK) {
      this.pending.delete(correlationId);
      if (p.kind === 'replay') p.resolve(r.relevantId());
      else if (p.kind === 'position') p.resolve(Number(r.relevantId()));
      else p.resolve(p.kind === 'descriptor' ? (p.items[0] ?? null) : p.items);
    } else if (code === codecs.ControlResponseCode.RECORDING_UNKNOWN || code === codecs.ControlResponseCode.SUBSCRIPTION_UNKNOWN) {
      this.pending.delete(correlationId);
      if (p.kind === 'position' || p.kind === 'replay') p.reject(this.archiveError(`${p.what}: unknown`, r, correlationId));
      else p.resolve(p.kind === 'descriptor' ? (p.items[0] ?? null) : p.items);
    } else {
      this.pending.delete(correlationId);
      p.reject(this.archiveError(p.what, r, correlationId));
    }
  }

  private archiveError(what: string, r: codecs.ControlResponseDecoder, correlationId: number): ArchiveRequestError {
    const code = Number(r.relevantId());
    const message = r.errorMessage();
    return new ArchiveRequestError(`${what} failed: ${ERROR_NAMES[code] ?? `code ${code}`}: ${message}`, code, { ...this.subject(), correlationId });
  }

  private onDescriptor(d: codecs.RecordingDescriptorDecoder): void {
    if (d.controlSessionIdAsNumber() !== this.controlSessionId) return;
    const p = this.pending.get(d.correlationIdAsNumber());
    if (p === undefined) return;
    const descriptor: RecordingDescriptor = {
      controlSessionId: d.controlSessionIdAsNumber(), correlationId: d.correlationIdAsNumber(), recordingId: d.recordingIdAsNumber(), startTimestamp: d.startTimestampAsNumber(),
      stopTimestamp: d.stopTimestampAsNumber(), startPosition: d.startPositionAsNumber(), stopPosition: d.stopPositionAsNumber(), initialTermId: d.initialTermId(),
      segmentFileLength: d.segmentFileLength(), termBufferLength: d.termBufferLength(), mtuLength: d.mtuLength(), sessionId: d.sessionId(), streamId: d.streamId(),
      strippedChannel: d.strippedChannel(), originalChannel: d.originalChannel(), sourceIdentity: d.sourceIdentity(),
    };
    this.addItem(d.correlationIdAsNumber(), p, descriptor);
  }

  private onSubscriptionDescriptor(d: codecs.RecordingSubscriptionDescriptorDecoder): void {
    if (d.controlSessionIdAsNumber() !== this.controlSessionId) return;
    const p = this.pending.get(d.correlationIdAsNumber());
    if (p === undefined) return;
    this.addItem(d.correlationIdAsNumber(), p, { subscriptionId: d.subscriptionIdAsNumber(), streamId: d.streamId(), strippedChannel: d.strippedChannel() });
  }

  private addItem(correlationId: number, p: Pending, item: unknown): void {
    p.items.push(item);
    p.deadlineNs = this.client.nanoTime() + this.timeoutNs;
    if (p.items.length >= p.expected) {
      this.pending.delete(correlationId);
      p.resolve(p.kind === 'descriptor' ? item : p.items);
    }
  }

  private onSignal(s: codecs.RecordingSignalEventDecoder): void {
    if (s.controlSessionIdAsNumber() !== this.controlSessionId || this.onRecordingSignal === undefined) return;
    const event: RecordingSignalEvent = {
      correlationId: s.correlationIdAsNumber(), recordingId: s.recordingIdAsNumber(), subscriptionId: s.subscriptionIdAsNumber(), position: s.positionAsNumber(),
      signal: SIGNAL_NAMES[s.signal()] ?? 'START',
    };
    try {
      this.onRecordingSignal(event);
    } catch (error) {
      this.onError(new SkeinError(ErrorCode.HANDLER_FAILED, `onRecordingSignal threw: ${error instanceof Error ? error.message : String(error)}`, { ...this.subject(), cause: error }));
    }
  }

  private finishConnect(): void {
    const length = new codecs.KeepAliveRequestEncoder().wrapAndApplyHeader(this.buffer, 0).controlSessionId(this.controlSessionId).correlationId(-1).encodedLength();
    if (!this.offer(length)) {
      this.failConnect(new SkeinError(ErrorCode.BACK_PRESSURED, 'could not send the keepalive that completes the connect', this.subject()));
      return;
    }
    this.step = 'DONE';
    this.clientState = 'CONNECTED';
    const resolve = this.connectResolve;
    this.connectResolve = null;
    this.connectReject = null;
    resolve?.(this);
  }

  private failConnect(error: SkeinError): void {
    const reject = this.connectReject;
    this.connectResolve = null;
    this.connectReject = null;
    this.end('CLOSED', error);
    reject?.(error);
  }

  private request(what: string, kind: Kind, encode: (buffer: Uint8Array, correlationId: number) => number, expected = 0): Promise<unknown> {
    if (this.clientState !== 'CONNECTED' || this.closing !== null) {
      return Promise.reject(new SkeinError(ErrorCode.NOT_CONNECTED, `${what}: the archive client is ${this.closing !== null ? 'CLOSING' : this.clientState}`, { ...this.subject(), state: this.clientState }));
    }
    const correlationId = this.nextCorrelationId++;
    let length: number;
    try {
      length = encode(this.buffer, correlationId);
    } catch (error) {
      return Promise.reject(error);
    }
    if ((kind === 'descriptors' || kind === 'subscriptions' || kind === 'descriptor') && expected <= 0) return Promise.resolve(kind === 'descriptor' ? null : []);
    return new Promise((resolve, reject) => {
      if (!this.offer(length)) {
        const publication = this.publication!;
        reject(new SkeinError(publication.isConnected ? ErrorCode.BACK_PRESSURED : ErrorCode.NOT_CONNECTED, `${what}: the request could not be sent to ${this.requestChannel}`, { channel: this.requestChannel, streamId: this.requestStreamId, correlationId }));
        return;
      }
      this.pending.set(correlationId, { what, kind, deadlineNs: this.client.nanoTime() + this.timeoutNs, expected, items: [], resolve, reject });
    });
  }

  private positionRequest(
    what: string,
    recordingId: number,
    Encoder: new () => { wrapAndApplyHeader(b: Uint8Array, o: number): { controlSessionId(v: number): { correlationId(v: number): { recordingId(v: number): { encodedLength(): number } } } } },
  ): Promise<number> {
    return this.request(`${what} ${recordingId}`, 'position', (e, id) => new Encoder().wrapAndApplyHeader(e, 0).controlSessionId(this.controlSessionId).correlationId(id).recordingId(recordingId).encodedLength()) as Promise<number>;
  }

  private offer(length: number): boolean {
    const publication = this.publication;
    if (publication === null) return false;
    for (let i = 0; i < OFFER_ATTEMPTS; i++) if (publication.offer(this.buffer, 0, length) > 0) return true;
    return false;
  }

  private end(state: 'CLOSED' | 'DISCONNECTED', error: SkeinError): void {
    const wasConnected = this.clientState === 'CONNECTED';
    this.clientState = state;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
    this.publication?.close();
    this.subscription?.close();
    this.client.removeAgent(this);
    if (state === 'DISCONNECTED' && wasConnected) this.onError(error);
  }
}

/** @internal An ArchiveClient is an agent of its SkeinClient. */
export type ArchiveClientRoles = Implements<Agent, ArchiveClient>;
