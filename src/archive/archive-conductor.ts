/**
 * What the archive does for each request (ARCHIVE.md §7): recording subscriptions and their
 * recordings, replays, positions and listings, over the catalog and the segment files. Requests
 * come in decoded, from a control session, with the session's link for answers; the conductor runs
 * on the client's duty cycle (recorder and replayer included: Aeron's SHARED threading mode).
 */
import type { SkeinClient } from '../client/skein-client.js';
import type { Subscription } from '../client/subscription.js';
import type { Image } from '../client/image.js';
import type { Publication } from '../client/publication.js';
import type { Files } from '../env/files.js';
import type { EpochClock } from '../env/clock.js';
import { ChannelUri, SPY_PREFIX } from '../protocol/channel-uri.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import type { ArchiveSettings } from './archive-context.js';
import { RecordingState, type Catalog, type RecordingDescriptor } from './catalog.js';
import { RecordingReader } from './recording-reader.js';
import { RecordingSession, type RecordingSessionListener } from './recording-session.js';
import { RecordingWriter, checkFileSyncLevel } from './recording-writer.js';
import { ReplaySession, type ReplayLimit, type ReplaySessionListener } from './replay-session.js';
import { segmentBasePosition, segmentBasesOf, segmentFileName, segmentLengthFor } from './segment-files.js';
import type { RecordingLayout } from './segment-scan.js';
import * as codecs from './codecs/archive-codecs.js';
import { ArchiveClient, type ArchiveClientOptions } from './archive-client.js';
import { ReplicationSession, type ReplicationHost } from './replication-session.js';

import { ArchiveErrorCode, RecordingSignal, type SourceLocation } from './archive-codes.js';
export { ArchiveErrorCode, RecordingSignal, RECORDING_POSITION_TYPE_ID, REPLAY_ALL_AND_FOLLOW, REPLAY_ALL_AND_STOP, type SourceLocation } from './archive-codes.js';
import { RECORDING_POSITION_TYPE_ID, REPLAY_ALL_AND_FOLLOW, REPLAY_ALL_AND_STOP } from './archive-codes.js';

const FRAME_ALIGNMENT = 32;
const DATA_HEADER_LENGTH = 32;
/** Catalog entries a listing looks at per duty cycle. */
const LISTING_BATCH = 64;

/** How the conductor answers the control session a request came from. */
export interface ControlSessionLink {
  readonly controlSessionId: number;
  readonly isDone: boolean;
  sendOk(correlationId: number, relevantId: bigint | number): void;
  sendError(correlationId: number, code: ArchiveErrorCode, message: string): void;
  /** RECORDING_UNKNOWN: an unknown recording, and the end of a listing. */
  sendRecordingUnknown(correlationId: number, recordingId: number): void;
  /** SUBSCRIPTION_UNKNOWN: the end of a listing of recording subscriptions. */
  sendSubscriptionUnknown(correlationId: number): void;
  sendSignal(correlationId: number, recordingId: number, subscriptionId: number, position: number, signal: RecordingSignal): void;
  sendDescriptor(correlationId: number, descriptor: Readonly<RecordingDescriptor>): void;
  sendSubscriptionDescriptor(correlationId: number, subscriptionId: number, streamId: number, strippedChannel: string): void;
}

/** The transport parameters that make a recording subscription's key and stripped channel. */
const KEY_PARAMS = ['endpoint', 'interface', 'control', 'control-mode', 'session-id', 'tags'] as const;

/** A channel reduced to what says where the stream comes from (ARCHIVE.md §7.1). */
export function stripChannel(channel: string): string {
  const uri = ChannelUri.parse(channel);
  let text = `aeron:${uri.media}`;
  let separator = '?';
  for (const key of KEY_PARAMS) {
    const value = uri.get(key);
    if (value === undefined) continue;
    text += `${separator}${key}=${value}`;
    separator = '|';
  }
  return text;
}

interface RecordingSubscription {
  readonly subscriptionId: number;
  readonly key: string;
  readonly streamId: number;
  readonly strippedChannel: string;
  readonly originalChannel: string;
  readonly link: ControlSessionLink;
  readonly correlationId: number;
  readonly autoStop: boolean;
  /** For an extension: the recording the next image continues. */
  readonly extendRecordingId: number | null;
  subscription: Subscription | null;
  readonly sessions: Set<RecordingSession>;
  closed: boolean;
}

interface ActiveRecording {
  readonly session: RecordingSession;
  readonly owner: RecordingSubscription;
}

interface ActiveReplay {
  readonly session: ReplaySession;
  readonly link: ControlSessionLink;
  readonly correlationId: number;
}

interface Listing {
  readonly link: ControlSessionLink;
  readonly correlationId: number;
  nextId: number;
  remaining: number;
  readonly streamId: number | null;
  readonly channelFragment: string;
}

/** A replicate request as it came (ReplicateRequest, TaggedReplicateRequest or ReplicateRequest2). */
export interface ReplicateParams {
  readonly srcRecordingId: number;
  readonly dstRecordingId: number;
  readonly stopPosition: number;
  readonly channelTagId: number;
  readonly subscriptionTagId: number;
  readonly srcControlStreamId: number;
  readonly srcControlChannel: string;
  readonly liveDestination: string;
  /** Empty: the archive's replicationChannel. */
  readonly replicationChannel: string;
  readonly fileIoMaxLength: number;
  readonly replicationSessionId: number;
  readonly srcResponseChannel: string;
}

export interface ArchiveConductorInit {
  readonly client: SkeinClient;
  readonly settings: ArchiveSettings;
  readonly files: Files;
  readonly epochClock: EpochClock;
  readonly catalog: Catalog;
  readonly archiveId: number;
  /** Errors no request can be told of (a recording that failed after its start was answered, say). */
  readonly onError: (error: SkeinError) => void;
  /** Where RecordingStarted, RecordingProgress and RecordingStopped go (recording events enabled), or null. */
  readonly recordingEvents?: Publication | null;
}

export class ArchiveConductor implements RecordingSessionListener, ReplaySessionListener {
  readonly archiveId: number;
  private readonly client: SkeinClient;
  private readonly settings: ArchiveSettings;
  private readonly files: Files;
  private readonly epochClock: EpochClock;
  private readonly catalog: Catalog;
  private readonly onError: (error: SkeinError) => void;
  private readonly subscriptions = new Map<number, RecordingSubscription>();
  private readonly recordings = new Map<number, ActiveRecording>();
  /** The same recordings, for the duty cycle to walk without an iterator per turn. */
  private recordingList: ActiveRecording[] = [];
  private readonly replays = new Map<bigint, ActiveReplay>();
  private readonly listings = new Map<number, Listing>();
  private readonly recordingEvents: Publication | null;
  private readonly eventBuffer = new Uint8Array(4096);
  private readonly startedEncoder = new codecs.RecordingStartedEncoder();
  private readonly progressEncoder = new codecs.RecordingProgressEncoder();
  private readonly stoppedEncoder = new codecs.RecordingStoppedEncoder();
  /** Join position and last position sent in a RecordingProgress, per active recording. */
  private readonly progress = new Map<number, { joinPosition: number; sent: number }>();
  private readonly replications = new Map<number, ReplicationSession>();
  private readonly replicationHost: ReplicationHost;
  private replayCounter = 1;
  private nextReplicationId = 1;
  private closed = false;

  constructor(init: ArchiveConductorInit) {
    this.client = init.client;
    this.settings = init.settings;
    this.files = init.files;
    this.epochClock = init.epochClock;
    this.catalog = init.catalog;
    this.archiveId = init.archiveId;
    this.onError = init.onError;
    this.recordingEvents = init.recordingEvents ?? null;
    this.replicationHost = this.makeReplicationHost();
  }

  get activeRecordingCount(): number {
    return this.recordings.size;
  }

  get activeReplayCount(): number {
    return this.replays.size;
  }

  /** Where an active recording has got to (bytes written), or -1 when it is not recording. */
  recordedPosition(recordingId: number): number {
    return this.recordings.get(recordingId)?.session.recordedPosition ?? -1;
  }

  get activeReplicationCount(): number {
    return this.replications.size;
  }

  doWork(nowNs: number): number {
    let work = 0;
    // Index loops and size checks: no iterator made per duty cycle.
    const recordings = this.recordingList;
    for (let i = 0; i < recordings.length; i++) {
      const recording = recordings[i]!;
      // One ended by an earlier one's work this turn is skipped, as a map's iterator would.
      if (this.recordings.get(recording.session.recordingId) !== recording) continue;
      const session = recording.session;
      work += session.doWork();
      if (this.recordingEvents !== null) this.sendProgress(session);
    }
    if (this.replays.size > 0) for (const { session } of this.replays.values()) work += session.doWork(nowNs);
    if (this.listings.size > 0) for (const listing of this.listings.values()) work += this.continueListing(listing);
    if (this.replications.size > 0) {
      for (const replication of this.replications.values()) {
        // A replication's signals and errors go to the session that asked: gone with it.
        if (replication.link.isDone) replication.abort('control session closed');
        else work += replication.doWork(nowNs);
      }
    }
    return work;
  }

  // ---------------------------------------------------------------------------------------------
  // Recording

  startRecording(link: ControlSessionLink, correlationId: number, streamId: number, channel: string, sourceLocation: SourceLocation, autoStop: boolean): void {
    this.addRecordingSubscription(link, correlationId, streamId, channel, sourceLocation, autoStop, null);
  }

  extendRecording(link: ControlSessionLink, correlationId: number, recordingId: number, streamId: number, channel: string, sourceLocation: SourceLocation, autoStop: boolean): void {
    const d = this.catalog.descriptor(recordingId);
    if (d === null) return link.sendError(correlationId, ArchiveErrorCode.UNKNOWN_RECORDING, `unknown recording id: ${recordingId}`);
    if (d.streamId !== streamId) return link.sendError(correlationId, ArchiveErrorCode.UNKNOWN_RECORDING, `cannot extend recording ${recordingId} with streamId=${streamId} for existing streamId=${d.streamId}`);
    if (this.recordings.has(recordingId)) return link.sendError(correlationId, ArchiveErrorCode.ACTIVE_RECORDING, `cannot extend active recording ${recordingId}`);
    this.addRecordingSubscription(link, correlationId, streamId, channel, sourceLocation, autoStop, recordingId);
  }

  stopRecording(link: ControlSessionLink, correlationId: number, streamId: number, channel: string): void {
    let key: string;
    try {
      key = this.keyOf(streamId, channel);
    } catch (error) {
      return link.sendError(correlationId, ArchiveErrorCode.GENERIC, (error as Error).message);
    }
    const owner = [...this.subscriptions.values()].find((s) => s.key === key);
    if (owner === undefined) return link.sendError(correlationId, ArchiveErrorCode.UNKNOWN_SUBSCRIPTION, `no recording found for streamId=${streamId} channel=${channel}`);
    this.closeRecordingSubscription(owner);
    link.sendOk(correlationId, 0);
  }

  stopRecordingSubscription(link: ControlSessionLink, correlationId: number, subscriptionId: number): void {
    const owner = this.subscriptions.get(subscriptionId);
    if (owner === undefined) return link.sendError(correlationId, ArchiveErrorCode.UNKNOWN_SUBSCRIPTION, `no recording subscription found for subscriptionId=${subscriptionId}`);
    this.closeRecordingSubscription(owner);
    link.sendOk(correlationId, 0);
  }

  stopRecordingByIdentity(link: ControlSessionLink, correlationId: number, recordingId: number): void {
    if (this.catalog.descriptor(recordingId) === null) return link.sendError(correlationId, ArchiveErrorCode.UNKNOWN_RECORDING, `unknown recording id: ${recordingId}`);
    const active = this.recordings.get(recordingId);
    if (active === undefined) return link.sendOk(correlationId, 0);
    active.session.abort();
    if (active.owner.sessions.size === 0) this.closeRecordingSubscription(active.owner);
    link.sendOk(correlationId, 1);
  }

  /**
   * Adds a recording subscription. Its creation is answered to `link` (OK with the subscription
   * id, or an error), or, for a replication, to `hooks`.
   */
  private addRecordingSubscription(
    link: ControlSessionLink, correlationId: number, streamId: number, channel: string, sourceLocation: SourceLocation, autoStop: boolean, extendRecordingId: number | null,
    hooks: { onSubscribed(subscription: Subscription): void; onFailed(code: ArchiveErrorCode, message: string): void } | null = null,
  ): void {
    const refuse = (code: ArchiveErrorCode, message: string): void => (hooks === null ? link.sendError(correlationId, code, message) : hooks.onFailed(code, message));
    let key: string;
    let strippedChannel: string;
    let uri: ChannelUri;
    try {
      uri = ChannelUri.parse(channel);
      strippedChannel = stripChannel(channel);
      key = this.keyOf(streamId, channel);
    } catch (error) {
      return refuse(ArchiveErrorCode.GENERIC, (error as Error).message);
    }
    if (this.recordings.size >= this.settings.maxConcurrentRecordings) {
      return refuse(ArchiveErrorCode.MAX_RECORDINGS, `max concurrent recordings reached ${this.settings.maxConcurrentRecordings}`);
    }
    const usable = this.usableSpace();
    if (usable < this.settings.lowStorageSpaceThreshold) {
      return refuse(ArchiveErrorCode.STORAGE_SPACE, `low storage threshold=${this.settings.lowStorageSpaceThreshold} usableSpace=${usable}`);
    }
    if ([...this.subscriptions.values()].some((s) => s.key === key)) {
      return refuse(ArchiveErrorCode.ACTIVE_SUBSCRIPTION, `recording exists for streamId=${streamId} channel=${channel}`);
    }
    const subscribeTo = sourceLocation === 'LOCAL' && uri.media === 'udp' && !uri.isSpy ? `${SPY_PREFIX}${strippedChannel}` : strippedChannel;
    const owner: RecordingSubscription = {
      subscriptionId: -1, key, streamId, strippedChannel, originalChannel: channel, link, correlationId, autoStop, extendRecordingId,
      subscription: null, sessions: new Set(), closed: false,
    };
    this.client
      .addSubscription(subscribeTo, streamId, { onAvailableImage: (image) => this.onRecordingImage(owner, image) })
      .then((subscription) => {
        if (this.closed) {
          subscription.close();
          return;
        }
        owner.subscription = subscription;
        (owner as { subscriptionId: number }).subscriptionId = subscription.registrationId;
        this.subscriptions.set(subscription.registrationId, owner);
        if (hooks === null) link.sendOk(correlationId, subscription.registrationId);
        else hooks.onSubscribed(subscription);
        for (const image of subscription.images) this.onRecordingImage(owner, image);
      })
      .catch((error: unknown) => refuse(ArchiveErrorCode.GENERIC, error instanceof Error ? error.message : String(error)));
  }

  private onRecordingImage(owner: RecordingSubscription, image: Image): void {
    if (owner.subscription === null || owner.closed || this.closed) return;
    if ([...owner.sessions].some((s) => s.image === image)) return;
    if (this.recordings.size >= this.settings.maxConcurrentRecordings) {
      owner.link.sendError(owner.correlationId, ArchiveErrorCode.MAX_RECORDINGS, `max concurrent recordings reached ${this.settings.maxConcurrentRecordings}: image sessionId=${image.sessionId} not recorded`);
      return;
    }
    const termLength = image.termBufferLength;
    const mtuLength = image.logBuffers.metaData.mtuLength;
    const nowMs = this.epochClock.epochMs();
    let recordingId: number;
    let startPosition: number;
    let position = image.position;
    let segmentLength: number;
    const extendId = owner.extendRecordingId;
    if (extendId !== null) {
      const d = this.catalog.descriptor(extendId);
      if (d === null || this.recordings.has(extendId)) {
        owner.link.sendError(owner.correlationId, ArchiveErrorCode.UNKNOWN_RECORDING, `recording ${extendId} can no longer be extended`);
        return;
      }
      if (d.stopPosition !== image.position || d.initialTermId !== image.initialTermId || d.termBufferLength !== termLength || d.mtuLength !== mtuLength) {
        owner.link.sendError(
          owner.correlationId, ArchiveErrorCode.INVALID_EXTENSION,
          `cannot extend recording ${extendId}: image joinPosition=${image.position} initialTermId=${image.initialTermId} termBufferLength=${termLength} mtuLength=${mtuLength} ` +
            `do not match stopPosition=${d.stopPosition} initialTermId=${d.initialTermId} termBufferLength=${d.termBufferLength} mtuLength=${d.mtuLength}`,
        );
        return;
      }
      recordingId = extendId;
      startPosition = d.startPosition;
      position = d.stopPosition;
      segmentLength = d.segmentFileLength;
      this.catalog.extendRecording(extendId, owner.link.controlSessionId, owner.correlationId, image.sessionId);
    } else {
      segmentLength = segmentLengthFor(this.settings.segmentFileLength, termLength);
      startPosition = image.position;
      recordingId = this.catalog.addNewRecording({
        controlSessionId: owner.link.controlSessionId, correlationId: owner.correlationId, startTimestamp: nowMs, stopTimestamp: -1,
        startPosition, stopPosition: -1, initialTermId: image.initialTermId, segmentFileLength: segmentLength, termBufferLength: termLength,
        mtuLength, sessionId: image.sessionId, streamId: image.streamId, strippedChannel: owner.strippedChannel, originalChannel: owner.originalChannel,
        sourceIdentity: image.sourceIdentity,
      });
    }
    const writer = new RecordingWriter({
      files: this.files, archiveDir: this.settings.dir, recordingId, startPosition, position, initialTermId: image.initialTermId,
      termLength, segmentLength, fileSyncLevel: checkFileSyncLevel('fileSyncLevel', this.settings.fileSyncLevel),
    });
    const label = `rec-pos: ${recordingId} ${image.sessionId} ${image.streamId} ${owner.strippedChannel} - archiveId=${this.archiveId}`;
    this.client
      .addCounter(RECORDING_POSITION_TYPE_ID, label, { recordingId, sessionId: image.sessionId, sourceIdentity: image.sourceIdentity, archiveId: this.archiveId })
      .then((counter) => {
        if (this.closed || owner.closed) {
          counter.close();
          writer.close();
          this.catalog.recordingStopped(recordingId, position, this.epochClock.epochMs());
          return;
        }
        const session = new RecordingSession({ recordingId, image, writer, position: counter, blockLengthLimit: Math.min(this.settings.fileIoMaxLength, termLength), listener: this });
        owner.sessions.add(session);
        this.recordings.set(recordingId, { session, owner });
        this.recordingList = [...this.recordings.values()];
        this.sendStarted(recordingId, startPosition, image, owner.originalChannel, position);
        owner.link.sendSignal(owner.correlationId, recordingId, owner.subscriptionId, position, extendId !== null ? RecordingSignal.EXTEND : RecordingSignal.START);
      })
      .catch((error: unknown) => {
        writer.close();
        this.catalog.recordingStopped(recordingId, position, this.epochClock.epochMs());
        owner.link.sendError(owner.correlationId, ArchiveErrorCode.GENERIC, `recording ${recordingId} not started: ${error instanceof Error ? error.message : String(error)}`);
      });
  }

  onRecordingDone(session: RecordingSession, stopPosition: number, error: SkeinError | null): void {
    const active = this.recordings.get(session.recordingId);
    this.recordings.delete(session.recordingId);
    this.recordingList = [...this.recordings.values()];
    this.catalog.recordingStopped(session.recordingId, stopPosition, this.epochClock.epochMs());
    this.sendStopped(session.recordingId, stopPosition);
    if (active === undefined) return;
    const owner = active.owner;
    owner.sessions.delete(session);
    if (error !== null) {
      const code = /ENOSPC/.test(error.message) ? ArchiveErrorCode.STORAGE_SPACE : ArchiveErrorCode.GENERIC;
      owner.link.sendError(owner.correlationId, code, error.message);
      this.onError(error);
    }
    owner.link.sendSignal(owner.correlationId, session.recordingId, owner.subscriptionId, stopPosition, RecordingSignal.STOP);
    if (owner.autoStop && owner.sessions.size === 0) this.closeRecordingSubscription(owner);
  }

  private closeRecordingSubscription(owner: RecordingSubscription): void {
    if (owner.closed) return;
    owner.closed = true;
    this.subscriptions.delete(owner.subscriptionId);
    for (const session of [...owner.sessions]) session.abort();
    owner.subscription?.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Positions and queries

  recordingPosition(link: ControlSessionLink, correlationId: number, recordingId: number): void {
    const active = this.recordings.get(recordingId);
    link.sendOk(correlationId, active === undefined ? -1 : active.session.recordedPosition);
  }

  stopPosition(link: ControlSessionLink, correlationId: number, recordingId: number): void {
    const d = this.catalog.descriptor(recordingId);
    if (d === null) return link.sendError(correlationId, ArchiveErrorCode.UNKNOWN_RECORDING, `unknown recording id: ${recordingId}`);
    link.sendOk(correlationId, d.stopPosition);
  }

  startPosition(link: ControlSessionLink, correlationId: number, recordingId: number): void {
    const d = this.catalog.descriptor(recordingId);
    if (d === null) return link.sendError(correlationId, ArchiveErrorCode.UNKNOWN_RECORDING, `unknown recording id: ${recordingId}`);
    link.sendOk(correlationId, d.startPosition);
  }

  maxRecordedPosition(link: ControlSessionLink, correlationId: number, recordingId: number): void {
    const d = this.catalog.descriptor(recordingId);
    if (d === null) return link.sendError(correlationId, ArchiveErrorCode.UNKNOWN_RECORDING, `unknown recording id: ${recordingId}`);
    const active = this.recordings.get(recordingId);
    link.sendOk(correlationId, active === undefined ? d.stopPosition : active.session.recordedPosition);
  }

  findLastMatchingRecording(link: ControlSessionLink, correlationId: number, minRecordingId: number, sessionId: number, streamId: number, channelFragment: string): void {
    if (minRecordingId < 0) return link.sendError(correlationId, ArchiveErrorCode.UNKNOWN_RECORDING, `minRecordingId=${minRecordingId} is not a recording id`);
    let found = -1;
    this.catalog.forEach(minRecordingId, (d) => {
      if (d.sessionId === sessionId && d.streamId === streamId && d.originalChannel.includes(channelFragment)) found = d.recordingId;
    });
    link.sendOk(correlationId, found);
  }

  archiveIdRequest(link: ControlSessionLink, correlationId: number): void {
    link.sendOk(correlationId, this.archiveId);
  }

  // ---------------------------------------------------------------------------------------------
  // Listing

  listRecordings(link: ControlSessionLink, correlationId: number, fromRecordingId: number, recordCount: number): void {
    this.startListing(link, correlationId, fromRecordingId, recordCount, null, '');
  }

  listRecordingsForUri(link: ControlSessionLink, correlationId: number, fromRecordingId: number, recordCount: number, streamId: number, channelFragment: string): void {
    this.startListing(link, correlationId, fromRecordingId, recordCount, streamId, channelFragment);
  }

  listRecording(link: ControlSessionLink, correlationId: number, recordingId: number): void {
    if (this.listings.has(link.controlSessionId)) return link.sendError(correlationId, ArchiveErrorCode.ACTIVE_LISTING, 'active listing already in progress');
    const d = this.catalog.descriptor(recordingId);
    if (d === null) link.sendRecordingUnknown(correlationId, recordingId);
    else link.sendDescriptor(correlationId, d);
  }

  listRecordingSubscriptions(link: ControlSessionLink, correlationId: number, pseudoIndex: number, count: number, applyStreamId: boolean, streamId: number, channelFragment: string): void {
    if (this.listings.has(link.controlSessionId)) return link.sendError(correlationId, ArchiveErrorCode.ACTIVE_LISTING, 'active listing already in progress');
    const matching = [...this.subscriptions.values()].filter((s) => (!applyStreamId || s.streamId === streamId) && s.originalChannel.includes(channelFragment));
    let sent = 0;
    for (let i = Math.max(0, pseudoIndex); i < matching.length && sent < count; i++, sent++) {
      const s = matching[i]!;
      link.sendSubscriptionDescriptor(correlationId, s.subscriptionId, s.streamId, s.strippedChannel);
    }
    if (sent < count) link.sendSubscriptionUnknown(correlationId);
  }

  private startListing(link: ControlSessionLink, correlationId: number, fromRecordingId: number, recordCount: number, streamId: number | null, channelFragment: string): void {
    if (this.listings.has(link.controlSessionId)) return link.sendError(correlationId, ArchiveErrorCode.ACTIVE_LISTING, 'active listing already in progress');
    const listing: Listing = { link, correlationId, nextId: Math.max(0, fromRecordingId), remaining: recordCount, streamId, channelFragment };
    this.listings.set(link.controlSessionId, listing);
    this.continueListing(listing);
  }

  private continueListing(listing: Listing): number {
    const { link } = listing;
    if (link.isDone) {
      this.listings.delete(link.controlSessionId);
      return 0;
    }
    let scanned = 0;
    while (listing.remaining > 0 && scanned < LISTING_BATCH) {
      if (listing.nextId >= this.catalog.entryCount) {
        link.sendRecordingUnknown(listing.correlationId, listing.nextId);
        this.listings.delete(link.controlSessionId);
        return 1;
      }
      const d = this.catalog.descriptor(listing.nextId);
      listing.nextId++;
      scanned++;
      if (d === null) continue;
      if (listing.streamId !== null && (d.streamId !== listing.streamId || !d.originalChannel.includes(listing.channelFragment))) continue;
      link.sendDescriptor(listing.correlationId, d);
      listing.remaining--;
    }
    if (listing.remaining <= 0) this.listings.delete(link.controlSessionId);
    return scanned > 0 ? 1 : 0;
  }

  // ---------------------------------------------------------------------------------------------
  // Replay

  /**
   * Starts a replay of `recordingId` from `position` (-1: its start) for `length` bytes (-1: all
   * and follow a live recording; -2: all there is now) to `replayChannel`/`replayStreamId`. With
   * `limitCounterId` (a bounded replay), it never passes that counter's value.
   */
  replay(
    link: ControlSessionLink, correlationId: number, recordingId: number, position: number, length: number, replayStreamId: number, replayChannel: string,
    fileIoMaxLength: number, limitCounterId: number | null, nowNs: number,
  ): void {
    if (this.replays.size >= this.settings.maxConcurrentReplays) {
      return link.sendError(correlationId, ArchiveErrorCode.MAX_REPLAYS, `max concurrent replays reached ${this.settings.maxConcurrentReplays}`);
    }
    const d = this.catalog.descriptor(recordingId);
    if (d === null) return link.sendError(correlationId, ArchiveErrorCode.UNKNOWN_RECORDING, `unknown recording id: ${recordingId}`);
    const active = this.recordings.get(recordingId);
    const from = position === -1 ? d.startPosition : position;
    if (from % FRAME_ALIGNMENT !== 0) return link.sendError(correlationId, ArchiveErrorCode.GENERIC, `requested replay start position=${from} is not a multiple of FRAME_ALIGNMENT (${FRAME_ALIGNMENT}) for recording ${recordingId}`);
    if (from < d.startPosition) return link.sendError(correlationId, ArchiveErrorCode.INVALID_POSITION, `requested replay start position=${from} is less than recording start position=${d.startPosition} for recording ${recordingId}`);
    const stopNow = active === undefined ? d.stopPosition : active.session.recordedPosition;
    if (active === undefined && from >= d.stopPosition && !(from === d.stopPosition && length === REPLAY_ALL_AND_FOLLOW)) {
      if (from > d.stopPosition || length !== REPLAY_ALL_AND_STOP) {
        return link.sendError(correlationId, ArchiveErrorCode.INVALID_POSITION, `requested replay start position=${from} must be less than highest recorded position=${d.stopPosition} for recording ${recordingId}`);
      }
    }
    if (fileIoMaxLength > 0 && fileIoMaxLength < d.mtuLength) {
      return link.sendError(correlationId, ArchiveErrorCode.GENERIC, `fileIoMaxLength=${fileIoMaxLength} < mtuLength=${d.mtuLength} for recording ${recordingId}`);
    }
    let limitCounter: { id: number } | null = null;
    if (limitCounterId !== null) {
      if (!this.client.counterIsAllocated(limitCounterId)) {
        return link.sendError(correlationId, ArchiveErrorCode.GENERIC, `limit counter ${limitCounterId} is not allocated, for the bounded replay of recording ${recordingId}`);
      }
      limitCounter = { id: limitCounterId };
    }
    let end: number;
    if (length === REPLAY_ALL_AND_STOP) {
      end = stopNow;
      if (end <= from) return link.sendError(correlationId, ArchiveErrorCode.EMPTY_RECORDING, `recording ${recordingId} has nothing to replay from position=${from}`);
    } else if (length === REPLAY_ALL_AND_FOLLOW || length < 0) {
      end = active === undefined && limitCounter === null ? d.stopPosition : Number.POSITIVE_INFINITY;
    } else {
      end = from + length;
      if (active === undefined && limitCounter === null) end = Math.min(end, d.stopPosition);
    }
    let channel: string;
    try {
      const uri = ChannelUri.parse(replayChannel);
      const termId = (d.initialTermId + Math.floor(from / d.termBufferLength)) | 0;
      channel = uri
        .withParam('init-term-id', String(d.initialTermId))
        .withParam('term-id', String(termId))
        .withParam('term-offset', String(from % d.termBufferLength))
        .withParam('term-length', String(d.termBufferLength))
        .withParam('mtu', String(d.mtuLength))
        .toString();
    } catch (error) {
      return link.sendError(correlationId, ArchiveErrorCode.GENERIC, `replay channel '${replayChannel}': ${(error as Error).message}`);
    }
    const layout: RecordingLayout = {
      recordingId, startPosition: d.startPosition, initialTermId: d.initialTermId, termLength: d.termBufferLength, segmentLength: d.segmentFileLength, streamId: d.streamId, sessionId: d.sessionId,
    };
    const readLength = Math.max(d.mtuLength, Math.min(fileIoMaxLength > 0 ? fileIoMaxLength : this.settings.fileIoMaxLength, this.settings.fileIoMaxLength));
    const conductor = this;
    const limit: ReplayLimit = {
      position(): number {
        if (limitCounter !== null) return conductor.client.counterValue(limitCounter.id);
        const recording = conductor.recordings.get(recordingId);
        return recording === undefined ? conductor.catalog.descriptor(recordingId)?.stopPosition ?? 0 : recording.session.recordedPosition;
      },
      isFinal(): boolean {
        if (limitCounter !== null) return !conductor.client.counterIsAllocated(limitCounter.id);
        return !conductor.recordings.has(recordingId);
      },
    };
    this.client
      .addExclusivePublication(channel, replayStreamId)
      .then((publication: Publication) => {
        if (this.closed || link.isDone) {
          publication.close();
          return;
        }
        const replaySessionId = (BigInt(this.replayCounter++) << 32n) | BigInt(publication.sessionId >>> 0);
        let reader: RecordingReader;
        try {
          reader = new RecordingReader(this.files, this.settings.dir, layout, from, readLength);
        } catch (error) {
          publication.close();
          link.sendError(correlationId, ArchiveErrorCode.GENERIC, (error as Error).message);
          return;
        }
        const session = new ReplaySession({
          replaySessionId, recordingId, publication, reader, endPosition: end, limit, connectDeadlineNs: nowNs + this.settings.connectTimeoutNs,
          connectTimeoutMs: this.settings.connectTimeoutNs / 1e6, listener: this,
        });
        this.replays.set(replaySessionId, { session, link, correlationId });
        link.sendOk(correlationId, replaySessionId);
      })
      .catch((error: unknown) => link.sendError(correlationId, ArchiveErrorCode.GENERIC, `replay of recording ${recordingId} to ${replayChannel}: ${error instanceof Error ? error.message : String(error)}`));
  }

  stopReplay(link: ControlSessionLink, correlationId: number, replaySessionId: bigint): void {
    this.replays.get(replaySessionId)?.session.stop();
    link.sendOk(correlationId, 0);
  }

  stopAllReplays(link: ControlSessionLink, correlationId: number, recordingId: number): void {
    for (const { session } of [...this.replays.values()]) if (recordingId === -1 || session.recordingId === recordingId) session.stop();
    link.sendOk(correlationId, 0);
  }

  onReplayDone(session: ReplaySession, error: SkeinError | null): void {
    const active = this.replays.get(session.replaySessionId);
    this.replays.delete(session.replaySessionId);
    if (active !== undefined && error !== null) active.link.sendError(active.correlationId, ArchiveErrorCode.GENERIC, error.message);
  }

  // ---------------------------------------------------------------------------------------------
  // Replication (ARCHIVE.md §7.5)

  replicate(link: ControlSessionLink, correlationId: number, request: ReplicateParams): void {
    const replicationChannel = request.replicationChannel === '' ? this.settings.replicationChannel : request.replicationChannel;
    let uri: ChannelUri;
    try {
      uri = ChannelUri.parse(replicationChannel);
      if (request.liveDestination !== '') ChannelUri.parse(request.liveDestination);
      ChannelUri.parse(request.srcControlChannel);
    } catch (error) {
      return link.sendError(correlationId, ArchiveErrorCode.GENERIC, `replication of recording ${request.srcRecordingId}: ${(error as Error).message}`);
    }
    const tagged = request.channelTagId !== -1 || request.subscriptionTagId !== -1;
    if (uri.get('control-mode') === 'response') {
      return link.sendError(correlationId, ArchiveErrorCode.GENERIC, `replicationChannel ${replicationChannel}: response channels are not supported for replication by this archive`);
    }
    if (uri.media !== 'udp' || uri.get('endpoint') === undefined) {
      return link.sendError(correlationId, ArchiveErrorCode.GENERIC, `replicationChannel ${replicationChannel} must be a UDP channel with an endpoint`);
    }
    if ((tagged || request.liveDestination !== '') && uri.get('endpoint')!.endsWith(':0')) {
      return link.sendError(
        correlationId, ArchiveErrorCode.GENERIC,
        `replicationChannel ${replicationChannel}: a live or tagged replication records through a multi-destination subscription, whose replay destination needs a port other than 0`,
      );
    }
    let dstStopPosition = -1;
    if (request.dstRecordingId !== -1) {
      const d = this.catalog.descriptor(request.dstRecordingId);
      if (d === null) return link.sendError(correlationId, ArchiveErrorCode.UNKNOWN_RECORDING, `unknown destination recording id ${request.dstRecordingId}`);
      if (d.stopPosition === -1 || this.recordings.has(request.dstRecordingId)) {
        return link.sendError(correlationId, ArchiveErrorCode.ACTIVE_RECORDING, `cannot replicate to active recording ${request.dstRecordingId}`);
      }
      dstStopPosition = d.stopPosition;
    }
    const replicationId = this.nextReplicationId++;
    const session = new ReplicationSession(this.replicationHost, {
      ...request, replicationChannel, replicationId, link, dstStopPosition, messageTimeoutNs: this.settings.messageTimeoutNs,
    });
    this.replications.set(replicationId, session);
    link.sendOk(correlationId, replicationId);
  }

  stopReplication(link: ControlSessionLink, correlationId: number, replicationId: number): void {
    const session = this.replications.get(replicationId);
    if (session === undefined) return link.sendError(correlationId, ArchiveErrorCode.UNKNOWN_REPLICATION, `unknown replication id ${replicationId}`);
    session.abort('stop replication');
    link.sendOk(correlationId, 0);
  }

  private makeReplicationHost(): ReplicationHost {
    return {
      connectSource: (options: ArchiveClientOptions) =>
        ArchiveClient.connect(this.client, { controlResponseChannel: this.settings.replicationResponseChannel, ...options }),
      addReplicatedRecording: (d: RecordingDescriptor, link: ControlSessionLink, replicationId: number) =>
        this.catalog.addNewRecording({
          controlSessionId: link.controlSessionId, correlationId: replicationId, startTimestamp: d.startTimestamp, stopTimestamp: d.startTimestamp,
          startPosition: d.startPosition, stopPosition: d.startPosition, initialTermId: d.initialTermId, segmentFileLength: d.segmentFileLength,
          termBufferLength: d.termBufferLength, mtuLength: d.mtuLength, sessionId: d.sessionId, streamId: d.streamId, strippedChannel: d.strippedChannel,
          originalChannel: d.originalChannel, sourceIdentity: d.sourceIdentity,
        }),
      extendForReplication: (link, replicationId, recordingId, streamId, channel) =>
        new Promise<Subscription>((resolve, reject) => {
          this.addRecordingSubscription(link, replicationId, streamId, channel, 'REMOTE', true, recordingId, {
            onSubscribed: resolve,
            onFailed: (code, message) => reject(Object.assign(new Error(message), { archiveErrorCode: code })),
          });
        }),
      closeRecordingSubscription: (subscriptionId) => {
        const owner = this.subscriptions.get(subscriptionId);
        if (owner !== undefined) this.closeRecordingSubscription(owner);
      },
      onReplicationDone: (session) => {
        this.replications.delete(session.replicationId);
      },
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Deleting and moving data (ARCHIVE.md §7.4)

  /** Cuts a stopped recording back to `position`: later bytes are zeroed, later segment files deleted. */
  truncateRecording(link: ControlSessionLink, correlationId: number, recordingId: number, position: number): void {
    const d = this.stoppedDescriptor(link, correlationId, recordingId, 'truncate');
    if (d === null) return;
    if (position < d.startPosition || position > d.stopPosition || position % FRAME_ALIGNMENT !== 0) {
      return link.sendError(correlationId, ArchiveErrorCode.INVALID_POSITION, `invalid truncate position ${position}: recording ${recordingId} has start=${d.startPosition} stop=${d.stopPosition} (a multiple of 32 between them)`);
    }
    const bases = this.segmentBases(recordingId);
    // A position on a segment boundary keeps nothing of the segment that starts there.
    const base = segmentBasePosition(d.startPosition, position, d.termBufferLength, d.segmentFileLength);
    const keepBase = position === d.startPosition || position === base ? null : base;
    if (keepBase === null && position !== d.startPosition) {
      // Segments before the boundary stay whole.
      const doomedAtBoundary = bases.filter((b) => b >= position);
      this.catalog.updateStopPosition(recordingId, position);
      for (const b of doomedAtBoundary) this.files.remove(this.segmentPath(recordingId, b));
      link.sendOk(correlationId, doomedAtBoundary.length);
      link.sendSignal(correlationId, recordingId, -1, position, RecordingSignal.DELETE);
      return;
    }
    const doomed = bases.filter((b) => keepBase === null || b > keepBase);
    if (keepBase !== null && bases.includes(keepBase)) {
      const file = this.files.open(this.segmentPath(recordingId, keepBase), 'write');
      try {
        // Shrinking and growing again leaves zeros (a hole) after the new end.
        file.truncate(position - keepBase);
        file.truncate(d.segmentFileLength);
      } finally {
        file.close();
      }
    }
    this.catalog.updateStopPosition(recordingId, position);
    for (const base of doomed) this.files.remove(this.segmentPath(recordingId, base));
    link.sendOk(correlationId, doomed.length);
    link.sendSignal(correlationId, recordingId, -1, position, RecordingSignal.DELETE);
  }

  /** Deletes a stopped recording: its entry becomes DELETED and its segment files go. */
  purgeRecording(link: ControlSessionLink, correlationId: number, recordingId: number): void {
    const d = this.stoppedDescriptor(link, correlationId, recordingId, 'purge');
    if (d === null) return;
    const bases = this.segmentBases(recordingId);
    this.catalog.changeState(recordingId, RecordingState.DELETED);
    for (const base of bases) this.files.remove(this.segmentPath(recordingId, base));
    link.sendOk(correlationId, bases.length);
    link.sendSignal(correlationId, recordingId, -1, d.stopPosition, RecordingSignal.DELETE);
  }

  /** Moves a recording's start to a later segment boundary; the files stay until deleted. */
  detachSegments(link: ControlSessionLink, correlationId: number, recordingId: number, newStartPosition: number): void {
    const d = this.catalog.descriptor(recordingId);
    if (d === null) return link.sendError(correlationId, ArchiveErrorCode.UNKNOWN_RECORDING, `unknown recording id: ${recordingId}`);
    if (!this.checkDetach(link, correlationId, d, newStartPosition)) return;
    this.catalog.updateStartPosition(recordingId, newStartPosition);
    link.sendOk(correlationId, 0);
  }

  /** Deletes the segment files before a recording's start (left by detachSegments). */
  deleteDetachedSegments(link: ControlSessionLink, correlationId: number, recordingId: number): void {
    const d = this.catalog.descriptor(recordingId);
    if (d === null) return link.sendError(correlationId, ArchiveErrorCode.UNKNOWN_RECORDING, `unknown recording id: ${recordingId}`);
    const firstBase = segmentBasePosition(d.startPosition, d.startPosition, d.termBufferLength, d.segmentFileLength);
    const detached = this.segmentBases(recordingId).filter((b) => b < firstBase);
    for (const base of detached) this.files.remove(this.segmentPath(recordingId, base));
    link.sendOk(correlationId, detached.length);
    if (detached.length > 0) link.sendSignal(correlationId, recordingId, -1, d.startPosition, RecordingSignal.DELETE);
  }

  /** detachSegments and deleteDetachedSegments in one. */
  purgeSegments(link: ControlSessionLink, correlationId: number, recordingId: number, newStartPosition: number): void {
    const d = this.catalog.descriptor(recordingId);
    if (d === null) return link.sendError(correlationId, ArchiveErrorCode.UNKNOWN_RECORDING, `unknown recording id: ${recordingId}`);
    if (!this.checkDetach(link, correlationId, d, newStartPosition)) return;
    this.catalog.updateStartPosition(recordingId, newStartPosition);
    const detached = this.segmentBases(recordingId).filter((b) => b < newStartPosition);
    for (const base of detached) this.files.remove(this.segmentPath(recordingId, base));
    link.sendOk(correlationId, detached.length);
    if (detached.length > 0) link.sendSignal(correlationId, recordingId, -1, newStartPosition, RecordingSignal.DELETE);
  }

  /** Moves a recording's start back over whole segment files still there before it. */
  attachSegments(link: ControlSessionLink, correlationId: number, recordingId: number): void {
    const d = this.catalog.descriptor(recordingId);
    if (d === null) return link.sendError(correlationId, ArchiveErrorCode.UNKNOWN_RECORDING, `unknown recording id: ${recordingId}`);
    let base = segmentBasePosition(d.startPosition, d.startPosition, d.termBufferLength, d.segmentFileLength);
    let attached = 0;
    let start = d.startPosition;
    const header = new Uint8Array(DATA_HEADER_LENGTH);
    for (;;) {
      const previous = base - d.segmentFileLength;
      if (previous < 0 || !this.files.exists(this.segmentPath(recordingId, previous))) break;
      const file = this.files.open(this.segmentPath(recordingId, previous), 'read');
      let first = -1;
      try {
        if (file.size() !== d.segmentFileLength) break;
        // The first frame: the segment may start with the zeros before a mid-term recording start.
        for (let offset = 0; offset < d.segmentFileLength && first < 0; offset += FRAME_ALIGNMENT) {
          if (file.read(header, 0, DATA_HEADER_LENGTH, offset) < DATA_HEADER_LENGTH) break;
          const view = new DataView(header.buffer);
          if (view.getInt32(0, true) === 0) continue;
          const position = previous + offset;
          const termId = (d.initialTermId + Math.floor(position / d.termBufferLength)) | 0;
          if (view.getInt32(8, true) === position % d.termBufferLength && view.getInt32(20, true) === termId && view.getInt32(16, true) === d.streamId) first = position;
          else break;
        }
      } finally {
        file.close();
      }
      if (first < 0) break;
      start = first;
      base = previous;
      attached++;
    }
    if (attached > 0) this.catalog.updateStartPosition(recordingId, start);
    link.sendOk(correlationId, attached);
  }

  /** Moves the segment files of `srcRecordingId` to `dstRecordingId`, which it must continue or precede. */
  migrateSegments(link: ControlSessionLink, correlationId: number, srcRecordingId: number, dstRecordingId: number): void {
    const src = this.stoppedDescriptor(link, correlationId, srcRecordingId, 'migrate');
    if (src === null) return;
    const dst = this.stoppedDescriptor(link, correlationId, dstRecordingId, 'migrate');
    if (dst === null) return;
    if (src.segmentFileLength !== dst.segmentFileLength || src.termBufferLength !== dst.termBufferLength || src.initialTermId !== dst.initialTermId || src.streamId !== dst.streamId || src.mtuLength !== dst.mtuLength) {
      return link.sendError(correlationId, ArchiveErrorCode.GENERIC, `recordings ${srcRecordingId} and ${dstRecordingId} differ in segment length, term length, initial term id, stream or MTU`);
    }
    const prepend = src.stopPosition === dst.startPosition;
    const append = src.startPosition === dst.stopPosition;
    const boundary = prepend ? dst.startPosition : src.startPosition;
    if (!(prepend || append) || boundary !== segmentBasePosition(boundary, boundary, src.termBufferLength, src.segmentFileLength) || boundary % src.segmentFileLength !== 0) {
      return link.sendError(correlationId, ArchiveErrorCode.INVALID_POSITION, `recordings ${srcRecordingId} [${src.startPosition}, ${src.stopPosition}] and ${dstRecordingId} [${dst.startPosition}, ${dst.stopPosition}] do not meet on a segment boundary`);
    }
    const bases = this.segmentBases(srcRecordingId);
    for (const base of bases) this.files.rename(this.segmentPath(srcRecordingId, base), this.segmentPath(dstRecordingId, base));
    if (prepend) this.catalog.updateStartPosition(dstRecordingId, src.startPosition);
    else this.catalog.updateStopPosition(dstRecordingId, src.stopPosition);
    this.catalog.updateStartPosition(srcRecordingId, src.stopPosition);
    link.sendOk(correlationId, bases.length);
    link.sendSignal(correlationId, srcRecordingId, -1, src.stopPosition, RecordingSignal.DELETE);
  }

  private stoppedDescriptor(link: ControlSessionLink, correlationId: number, recordingId: number, what: string): RecordingDescriptor | null {
    const d = this.catalog.descriptor(recordingId);
    if (d === null) {
      link.sendError(correlationId, ArchiveErrorCode.UNKNOWN_RECORDING, `unknown recording id: ${recordingId}`);
      return null;
    }
    if (this.recordings.has(recordingId) || d.stopPosition === -1) {
      link.sendError(correlationId, ArchiveErrorCode.ACTIVE_RECORDING, `cannot ${what} recording ${recordingId}: it is active`);
      return null;
    }
    if ([...this.replays.values()].some((r) => r.session.recordingId === recordingId)) {
      link.sendError(correlationId, ArchiveErrorCode.ACTIVE_RECORDING, `cannot ${what} recording ${recordingId}: it is being replayed`);
      return null;
    }
    return d;
  }

  private checkDetach(link: ControlSessionLink, correlationId: number, d: RecordingDescriptor, newStart: number): boolean {
    const firstBase = segmentBasePosition(d.startPosition, d.startPosition, d.termBufferLength, d.segmentFileLength);
    const stop = d.stopPosition === -1 ? (this.recordings.get(d.recordingId)?.session.recordedPosition ?? d.startPosition) : d.stopPosition;
    const lastBase = segmentBasePosition(d.startPosition, Math.max(d.startPosition, stop), d.termBufferLength, d.segmentFileLength);
    const isBoundary = (newStart - firstBase) % d.segmentFileLength === 0;
    if (!isBoundary || newStart <= firstBase || newStart > lastBase) {
      link.sendError(correlationId, ArchiveErrorCode.INVALID_POSITION, `invalid new start position ${newStart} for recording ${d.recordingId}: a segment boundary after ${firstBase} and up to ${lastBase}`);
      return false;
    }
    const replaying = [...this.replays.values()].some((r) => r.session.recordingId === d.recordingId && r.session.position < newStart);
    if (replaying) {
      link.sendError(correlationId, ArchiveErrorCode.ACTIVE_RECORDING, `recording ${d.recordingId} is being replayed before ${newStart}`);
      return false;
    }
    return true;
  }

  private segmentBases(recordingId: number): number[] {
    return segmentBasesOf(this.files.list(this.settings.dir), recordingId);
  }

  private segmentPath(recordingId: number, base: number): string {
    return `${this.settings.dir}/${segmentFileName(recordingId, base)}`;
  }

  // ---------------------------------------------------------------------------------------------
  // Recording events (ARCHIVE.md §9): best effort, like Aeron's: an event that cannot go now is dropped.

  private sendStarted(recordingId: number, startPosition: number, image: Image, channel: string, position: number): void {
    if (this.recordingEvents === null) return;
    this.progress.set(recordingId, { joinPosition: position, sent: position });
    const length = this.startedEncoder.wrapAndApplyHeader(this.eventBuffer, 0).recordingId(recordingId).startPosition(startPosition)
      .sessionId(image.sessionId).streamId(image.streamId).channel(channel).sourceIdentity(image.sourceIdentity).encodedLength();
    this.recordingEvents.offer(this.eventBuffer, 0, length);
  }

  private sendProgress(session: RecordingSession): void {
    const p = this.progress.get(session.recordingId);
    const position = session.recordedPosition;
    if (p === undefined || position === p.sent) return;
    const length = this.progressEncoder.wrapAndApplyHeader(this.eventBuffer, 0).recordingId(session.recordingId).startPosition(p.joinPosition).position(position).encodedLength();
    if (this.recordingEvents!.offer(this.eventBuffer, 0, length) > 0) p.sent = position;
  }

  private sendStopped(recordingId: number, stopPosition: number): void {
    const p = this.progress.get(recordingId);
    this.progress.delete(recordingId);
    if (this.recordingEvents === null || p === undefined) return;
    const length = this.stoppedEncoder.wrapAndApplyHeader(this.eventBuffer, 0).recordingId(recordingId).startPosition(p.joinPosition).stopPosition(stopPosition).encodedLength();
    this.recordingEvents.offer(this.eventBuffer, 0, length);
  }

  /** Stops every recording and replay and closes their subscriptions; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const owner of [...this.subscriptions.values()]) this.closeRecordingSubscription(owner);
    for (const { session } of [...this.recordings.values()]) session.abort();
    for (const { session } of [...this.replays.values()]) session.stop();
    for (const replication of [...this.replications.values()]) replication.abort('archive closed');
    this.listings.clear();
  }

  private keyOf(streamId: number, channel: string): string {
    return `${streamId} ${stripChannel(channel)}`;
  }

  private usableSpace(): number {
    try {
      return this.files.usableSpace(this.settings.dir);
    } catch (error) {
      this.onError(error instanceof SkeinError ? error : new SkeinError(ErrorCode.STORAGE_FAILED, String(error)));
      return 0;
    }
  }
}
