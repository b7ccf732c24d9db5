/**
 * The archive (ARCHIVE.md): a client of a media driver that listens for control requests on its
 * UDP and IPC control channels, runs a control session per connected client, and records,
 * replays and lists streams through its conductor, over the catalog and segment files in its
 * directory. It runs on its client's duty cycle (recorder and replayer included: one thread, as
 * Aeron's SHARED mode).
 *
 * A request counts only when it comes on the image its session's connect request came on; other
 * requests for the session are dropped and reported, as Aeron does, and no answer is sent.
 */
import type { SkeinClient } from '../client/skein-client.js';
import type { Subscription } from '../client/subscription.js';
import type { Image } from '../client/image.js';
import type { Publication } from '../client/publication.js';
import type { Agent } from '../agent/agent.js';
import type { Implements } from '../util/implements.js';
import { systemEpochClock, type EpochClock } from '../env/clock.js';
import { nodeFiles, type Files } from '../env/files.js';
import { ArchiveMarkFile } from './archive-mark-file.js';
import { SeededPrng } from '../env/prng.js';
import { FragmentAssembler } from '../logbuffer/fragment-assembler.js';
import type { Header } from '../logbuffer/header.js';
import { ChannelUri } from '../protocol/channel-uri.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import { resolveArchiveSettings, type ArchiveOptions, type ArchiveSettings } from './archive-context.js';
import { ArchiveConductor, ArchiveErrorCode } from './archive-conductor.js';
import { Catalog } from './catalog.js';
import { recoverInterruptedRecordings } from './catalog-recovery.js';
import * as codecs from './codecs/archive-codecs.js';
import { ControlSessionProxy, WireResponseEncoder } from './control-protocol.js';
import { ControlSession, type ControlSessionListener } from './control-session.js';
import type { ControlSessionEnd } from './archive-codes.js';

export interface ArchiveLaunchOptions extends ArchiveOptions {
  /** Where files live; node:fs by default (tests give files in memory). */
  files?: Files;
  epochClock?: EpochClock;
  /** Seeds the first control session id (Aeron starts it at a random value). */
  seed?: number;
  /** Environment for SKEIN_ARCHIVE_* overrides; none by default. */
  env?: Record<string, string | undefined>;
  /**
   * Every control session end, with its reason (normal ends too: a close, a client gone). By
   * default abnormal ends go to the client's error handler as warnings.
   */
  onSessionEnd?: (controlSessionId: number, end: ControlSessionEnd) => void;
}

interface SessionEntry {
  readonly session: ControlSession;
  readonly proxy: ControlSessionProxy;
  readonly requestImage: Image;
}

export class Archive {
  readonly roleName = 'archive';
  readonly settings: ArchiveSettings;
  readonly archiveId: number;
  private readonly client: SkeinClient;
  private readonly markFile: ArchiveMarkFile;
  private readonly catalog: Catalog;
  private readonly conductor: ArchiveConductor;
  private readonly encoder = new WireResponseEncoder();
  private readonly sessions = new Map<number, SessionEntry>();
  /** The same sessions, for the duty cycle to walk without an iterator per turn. */
  private sessionList: SessionEntry[] = [];
  private readonly controlSubscriptions: Subscription[];
  private readonly recordingEvents: Publication | null;
  private readonly assembler: FragmentAssembler;
  private readonly onSessionEnd: ((controlSessionId: number, end: ControlSessionEnd) => void) | undefined;
  private nextControlSessionId: number;
  private nowNs = 0;
  private closed = false;
  private readonly headerDecoder = new codecs.MessageHeaderDecoder();
  private readonly decoders = {
    authConnect: new codecs.AuthConnectRequestDecoder(),
    close: new codecs.CloseSessionRequestDecoder(),
    keepAlive: new codecs.KeepAliveRequestDecoder(),
    startRecording: new codecs.StartRecordingRequestDecoder(),
    startRecording2: new codecs.StartRecordingRequest2Decoder(),
    stopRecording: new codecs.StopRecordingRequestDecoder(),
    stopRecordingSubscription: new codecs.StopRecordingSubscriptionRequestDecoder(),
    stopRecordingByIdentity: new codecs.StopRecordingByIdentityRequestDecoder(),
    extendRecording: new codecs.ExtendRecordingRequestDecoder(),
    extendRecording2: new codecs.ExtendRecordingRequest2Decoder(),
    replay: new codecs.ReplayRequestDecoder(),
    boundedReplay: new codecs.BoundedReplayRequestDecoder(),
    stopReplay: new codecs.StopReplayRequestDecoder(),
    stopAllReplays: new codecs.StopAllReplaysRequestDecoder(),
    listRecordings: new codecs.ListRecordingsRequestDecoder(),
    listRecordingsForUri: new codecs.ListRecordingsForUriRequestDecoder(),
    listRecording: new codecs.ListRecordingRequestDecoder(),
    listRecordingSubscriptions: new codecs.ListRecordingSubscriptionsRequestDecoder(),
    recordingPosition: new codecs.RecordingPositionRequestDecoder(),
    stopPosition: new codecs.StopPositionRequestDecoder(),
    startPosition: new codecs.StartPositionRequestDecoder(),
    maxRecordedPosition: new codecs.MaxRecordedPositionRequestDecoder(),
    findLastMatching: new codecs.FindLastMatchingRecordingRequestDecoder(),
    archiveId: new codecs.ArchiveIdRequestDecoder(),
    truncate: new codecs.TruncateRecordingRequestDecoder(),
    purge: new codecs.PurgeRecordingRequestDecoder(),
    detach: new codecs.DetachSegmentsRequestDecoder(),
    deleteDetached: new codecs.DeleteDetachedSegmentsRequestDecoder(),
    purgeSegments: new codecs.PurgeSegmentsRequestDecoder(),
    attach: new codecs.AttachSegmentsRequestDecoder(),
    migrate: new codecs.MigrateSegmentsRequestDecoder(),
    replicate: new codecs.ReplicateRequestDecoder(),
    taggedReplicate: new codecs.TaggedReplicateRequestDecoder(),
    replicate2: new codecs.ReplicateRequest2Decoder(),
    stopReplication: new codecs.StopReplicationRequestDecoder(),
  };

  private constructor(
    client: SkeinClient, settings: ArchiveSettings, files: Files, catalog: Catalog, archiveId: number, epochClock: EpochClock, subscriptions: Subscription[],
    recordingEvents: Publication | null, options: ArchiveLaunchOptions, markFile: ArchiveMarkFile,
  ) {
    this.client = client;
    this.markFile = markFile;
    this.settings = settings;
    this.catalog = catalog;
    this.archiveId = archiveId;
    this.controlSubscriptions = subscriptions;
    this.onSessionEnd = options.onSessionEnd;
    this.nextControlSessionId = new SeededPrng(options.seed ?? (client.nanoTime() % 0x7fffffff)).nextInt(0x3fffffff);
    this.recordingEvents = recordingEvents;
    this.conductor = new ArchiveConductor({ client, settings, files, epochClock, catalog, archiveId, recordingEvents, onError: (error) => this.reportError(error) });
    this.assembler = new FragmentAssembler((buffer: Uint8Array, offset: number, length: number, header: Header) => this.onRequest(buffer, offset, length, header));
  }

  /**
   * Starts an archive on `client`: resolves its options (ERR_SKEIN_CONFIG_INVALID names every bad
   * one), opens (or creates) its directory and catalog, gives interrupted recordings their stop
   * positions, and subscribes to its control channels.
   */
  static async launch(client: SkeinClient, options: ArchiveLaunchOptions = {}): Promise<Archive> {
    const { files = nodeFiles, epochClock = systemEpochClock, seed: _seed, env = {}, onSessionEnd: _onSessionEnd, ...archiveOptions } = options;
    const settings = resolveArchiveSettings(archiveOptions, env);
    files.mkdirs(settings.dir);
    const archiveId = settings.archiveId === -1 ? client.clientId : settings.archiveId;
    // First the mark file: it refuses a directory another archive is using.
    const markFile = ArchiveMarkFile.open(files, settings.dir, epochClock, {
      startTimestamp: epochClock.epochMs(), pid: process.pid, controlStreamId: settings.controlStreamId, localControlStreamId: settings.localControlStreamId,
      eventsStreamId: settings.recordingEventsStreamId, archiveId, controlChannel: settings.controlChannelEnabled ? settings.controlChannel : '',
      localControlChannel: settings.localControlChannel, eventsChannel: settings.recordingEventsEnabled ? settings.recordingEventsChannel : '', aeronDirectory: '',
    });
    let catalog: Catalog;
    try {
      catalog = Catalog.open({ files, archiveDir: settings.dir, syncLevel: settings.catalogFileSyncLevel as 0 | 1 | 2 });
    } catch (error) {
      markFile.close();
      throw error;
    }
    const subscriptions: Subscription[] = [];
    let recordingEvents: Publication | null = null;
    try {
      recoverInterruptedRecordings(catalog, files, settings.dir, epochClock.epochMs());
      if (settings.recordingEventsEnabled) recordingEvents = await client.addExclusivePublication(settings.recordingEventsChannel, settings.recordingEventsStreamId);
      if (settings.controlChannelEnabled) subscriptions.push(await client.addSubscription(settings.controlChannel, settings.controlStreamId));
      subscriptions.push(await client.addSubscription(settings.localControlChannel, settings.localControlStreamId));
    } catch (error) {
      for (const s of subscriptions) s.close();
      recordingEvents?.close();
      catalog.close();
      markFile.close();
      throw error;
    }
    const archive = new Archive(client, settings, files, catalog, archiveId, epochClock, subscriptions, recordingEvents, options, markFile);
    client.addAgent(archive);
    return archive;
  }

  /** The UDP control channel as bound (a port 0 resolved), or null when it is off. */
  get controlChannel(): string | null {
    return this.settings.controlChannelEnabled ? this.controlSubscriptions[0]!.resolvedChannel : null;
  }

  get controlSessionCount(): number {
    return this.sessions.size;
  }

  /** Recordings being written now. */
  get activeRecordingCount(): number {
    return this.conductor.activeRecordingCount;
  }

  /** Where an active recording has got to (what its rec-pos counter says), or -1 when it is not recording. */
  recordedPosition(recordingId: number): number {
    return this.conductor.recordedPosition(recordingId);
  }

  /** Replays running now. */
  get activeReplayCount(): number {
    return this.conductor.activeReplayCount;
  }

  /** @internal */
  doWork(nowNs: number): number {
    if (this.closed) return 0;
    this.nowNs = nowNs;
    let work = 0;
    for (const subscription of this.controlSubscriptions) work += subscription.poll(this.assembler.onFragment, 16);
    const sessions = this.sessionList;
    for (let i = 0; i < sessions.length; i++) {
      const entry = sessions[i]!;
      // One ended earlier this turn is skipped, as a map's iterator would.
      if (this.sessions.get(entry.session.controlSessionId) !== entry) continue;
      const { session, requestImage } = entry;
      if (requestImage.isClosed && session.state !== 'DONE') {
        session.abort(
          `control request publication image unavailable : controlSessionId=${session.controlSessionId} image.correlationId=${requestImage.correlationId} ` +
            `sessionId=${requestImage.sessionId} streamId=${requestImage.streamId} channel=${requestImage.channel}`,
          true,
        );
        work++;
        continue;
      }
      work += session.doWork(nowNs);
    }
    work += this.conductor.doWork(nowNs);
    work += this.markFile.doWork();
    return work;
  }

  /** @internal */
  onControlSessionDone(session: ControlSession, end: ControlSessionEnd): void {
    this.sessions.delete(session.controlSessionId);
    this.sessionList = [...this.sessions.values()];
    if (this.onSessionEnd !== undefined) this.onSessionEnd(session.controlSessionId, end);
    else if (!end.normal) this.reportError(end.error);
  }

  /** Ends every session and recording, closes the control subscriptions and the catalog; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.removeAgent(this);
  }

  /** @internal */
  onClose(): void {
    this.closed = true;
    for (const { session } of [...this.sessions.values()]) session.abort('archive closed', true);
    this.conductor.close();
    for (const s of this.controlSubscriptions) s.close();
    this.recordingEvents?.close();
    this.catalog.close();
    this.markFile.close();
  }

  /** An error no request can be told of: into the mark file's error log, and to the client's error handler. */
  private reportError(error: SkeinError): void {
    this.markFile.recordError(error);
    this.client.reportError(error);
  }

  private onRequest(buffer: Uint8Array, offset: number, length: number, header: Header): void {
    const image = header.context as Image;
    try {
      const h = this.headerDecoder.wrap(buffer, offset, length);
      if (h.schemaId() !== codecs.SCHEMA_ID) {
        throw new SkeinError(ErrorCode.PROTOCOL_INVALID, `control request of schema ${h.schemaId()} (template ${h.templateId()}) on ${image.channel} stream ${image.streamId} session ${image.sessionId}; the archive speaks schema ${codecs.SCHEMA_ID}`);
      }
      const templateId = h.templateId();
      const body = offset + codecs.HEADER_LENGTH;
      const bodyLength = length - codecs.HEADER_LENGTH;
      const blockLength = h.blockLength();
      const version = h.version();
      if (templateId === codecs.AuthConnectRequestDecoder.TEMPLATE_ID) {
        this.onConnect(this.decoders.authConnect.wrap(buffer, body, blockLength, version, bodyLength), image);
        return;
      }
      this.dispatch(templateId, buffer, body, blockLength, version, bodyLength, image);
    } catch (error) {
      this.client.reportError(error instanceof SkeinError ? error : new SkeinError(ErrorCode.PROTOCOL_INVALID, `control request on ${image.channel}: ${String(error)}`, { cause: error }));
    }
  }

  private onConnect(d: codecs.AuthConnectRequestDecoder, image: Image): void {
    const correlationId = d.correlationIdAsNumber();
    const responseStreamId = d.responseStreamId();
    const clientVersion = d.version();
    let responseChannel = d.responseChannel();
    d.skipEncodedCredentials();
    const uri = ChannelUri.parse(responseChannel);
    if (uri.get('control-mode') === 'response') responseChannel = uri.withParam('response-correlation-id', String(image.correlationId)).toString();
    const controlSessionId = this.nextControlSessionId++;
    const session = new ControlSession({
      controlSessionId, connectCorrelationId: correlationId, clientVersion, responseChannel, responseStreamId, requestImageId: image.correlationId,
      encoder: this.encoder, listener: this, nowNs: this.nowNs, connectTimeoutNs: this.settings.connectTimeoutNs, livenessCheckIntervalNs: this.settings.sessionLivenessCheckIntervalNs,
    });
    const proxy = new ControlSessionProxy(session, this.client.clock);
    this.sessions.set(controlSessionId, { session, proxy, requestImage: image });
    this.sessionList = [...this.sessions.values()];
    this.client
      .addExclusivePublication(responseChannel, responseStreamId)
      .then((publication) => session.onResponsePublication(publication))
      .catch((error: unknown) => session.onResponsePublicationFailed(error));
  }

  private dispatch(templateId: number, buffer: Uint8Array, body: number, blockLength: number, version: number, length: number, image: Image): void {
    const d = this.decoders;
    // Every request after the connect starts with controlSessionId (and, but for close, correlationId).
    if (blockLength < 8 || length < 8) throw new SkeinError(ErrorCode.PROTOCOL_INVALID, `control request template ${templateId}: block length ${blockLength} has no controlSessionId`);
    const controlSessionId = Number(new DataView(buffer.buffer, buffer.byteOffset + body, 8).getBigInt64(0, true));
    const entry = this.sessions.get(controlSessionId);
    if (entry === undefined || entry.requestImage.correlationId !== image.correlationId) {
      this.client.reportError(
        new SkeinError(ErrorCode.PROTOCOL_INVALID, `control request template ${templateId} for ${entry === undefined ? 'unknown' : 'another image\'s'} session ${controlSessionId} dropped`, {
          channel: image.channel, streamId: image.streamId, sessionId: image.sessionId, category: 'warn',
        }),
      );
      return;
    }
    const { session, proxy } = entry;
    if (templateId === codecs.CloseSessionRequestDecoder.TEMPLATE_ID) {
      session.abort('session closed', true);
      return;
    }
    if (!session.onRequest()) return;
    const c = this.conductor;
    const now = this.nowNs;
    switch (templateId) {
      case codecs.KeepAliveRequestDecoder.TEMPLATE_ID:
        return;
      case codecs.StartRecordingRequestDecoder.TEMPLATE_ID: {
        const r = d.startRecording.wrap(buffer, body, blockLength, version, length);
        return c.startRecording(proxy, r.correlationIdAsNumber(), r.streamId(), r.channel(), sourceOf(r.sourceLocation()), false);
      }
      case codecs.StartRecordingRequest2Decoder.TEMPLATE_ID: {
        const r = d.startRecording2.wrap(buffer, body, blockLength, version, length);
        return c.startRecording(proxy, r.correlationIdAsNumber(), r.streamId(), r.channel(), sourceOf(r.sourceLocation()), r.autoStop() === codecs.BooleanType.TRUE);
      }
      case codecs.StopRecordingRequestDecoder.TEMPLATE_ID: {
        const r = d.stopRecording.wrap(buffer, body, blockLength, version, length);
        return c.stopRecording(proxy, r.correlationIdAsNumber(), r.streamId(), r.channel());
      }
      case codecs.StopRecordingSubscriptionRequestDecoder.TEMPLATE_ID: {
        const r = d.stopRecordingSubscription.wrap(buffer, body, blockLength, version, length);
        return c.stopRecordingSubscription(proxy, r.correlationIdAsNumber(), r.subscriptionIdAsNumber());
      }
      case codecs.StopRecordingByIdentityRequestDecoder.TEMPLATE_ID: {
        const r = d.stopRecordingByIdentity.wrap(buffer, body, blockLength, version, length);
        return c.stopRecordingByIdentity(proxy, r.correlationIdAsNumber(), r.recordingIdAsNumber());
      }
      case codecs.ExtendRecordingRequestDecoder.TEMPLATE_ID: {
        const r = d.extendRecording.wrap(buffer, body, blockLength, version, length);
        return c.extendRecording(proxy, r.correlationIdAsNumber(), r.recordingIdAsNumber(), r.streamId(), r.channel(), sourceOf(r.sourceLocation()), false);
      }
      case codecs.ExtendRecordingRequest2Decoder.TEMPLATE_ID: {
        const r = d.extendRecording2.wrap(buffer, body, blockLength, version, length);
        return c.extendRecording(proxy, r.correlationIdAsNumber(), r.recordingIdAsNumber(), r.streamId(), r.channel(), sourceOf(r.sourceLocation()), r.autoStop() === codecs.BooleanType.TRUE);
      }
      case codecs.ReplayRequestDecoder.TEMPLATE_ID: {
        const r = d.replay.wrap(buffer, body, blockLength, version, length);
        const fileIoMaxLength = version >= 7 ? r.fileIoMaxLength() : -1;
        return c.replay(proxy, r.correlationIdAsNumber(), r.recordingIdAsNumber(), r.positionAsNumber(), r.lengthAsNumber(), r.replayStreamId(), r.replayChannel(), fileIoMaxLength, null, now);
      }
      case codecs.BoundedReplayRequestDecoder.TEMPLATE_ID: {
        const r = d.boundedReplay.wrap(buffer, body, blockLength, version, length);
        const fileIoMaxLength = version >= 7 ? r.fileIoMaxLength() : -1;
        return c.replay(proxy, r.correlationIdAsNumber(), r.recordingIdAsNumber(), r.positionAsNumber(), r.lengthAsNumber(), r.replayStreamId(), r.replayChannel(), fileIoMaxLength, r.limitCounterId(), now);
      }
      case codecs.StopReplayRequestDecoder.TEMPLATE_ID: {
        const r = d.stopReplay.wrap(buffer, body, blockLength, version, length);
        return c.stopReplay(proxy, r.correlationIdAsNumber(), r.replaySessionId());
      }
      case codecs.StopAllReplaysRequestDecoder.TEMPLATE_ID: {
        const r = d.stopAllReplays.wrap(buffer, body, blockLength, version, length);
        return c.stopAllReplays(proxy, r.correlationIdAsNumber(), r.recordingIdAsNumber());
      }
      case codecs.ListRecordingsRequestDecoder.TEMPLATE_ID: {
        const r = d.listRecordings.wrap(buffer, body, blockLength, version, length);
        return c.listRecordings(proxy, r.correlationIdAsNumber(), r.fromRecordingIdAsNumber(), r.recordCount());
      }
      case codecs.ListRecordingsForUriRequestDecoder.TEMPLATE_ID: {
        const r = d.listRecordingsForUri.wrap(buffer, body, blockLength, version, length);
        return c.listRecordingsForUri(proxy, r.correlationIdAsNumber(), r.fromRecordingIdAsNumber(), r.recordCount(), r.streamId(), r.channel());
      }
      case codecs.ListRecordingRequestDecoder.TEMPLATE_ID: {
        const r = d.listRecording.wrap(buffer, body, blockLength, version, length);
        return c.listRecording(proxy, r.correlationIdAsNumber(), r.recordingIdAsNumber());
      }
      case codecs.ListRecordingSubscriptionsRequestDecoder.TEMPLATE_ID: {
        const r = d.listRecordingSubscriptions.wrap(buffer, body, blockLength, version, length);
        return c.listRecordingSubscriptions(proxy, r.correlationIdAsNumber(), r.pseudoIndex(), r.subscriptionCount(), r.applyStreamId() === codecs.BooleanType.TRUE, r.streamId(), r.channel());
      }
      case codecs.RecordingPositionRequestDecoder.TEMPLATE_ID: {
        const r = d.recordingPosition.wrap(buffer, body, blockLength, version, length);
        return c.recordingPosition(proxy, r.correlationIdAsNumber(), r.recordingIdAsNumber());
      }
      case codecs.StopPositionRequestDecoder.TEMPLATE_ID: {
        const r = d.stopPosition.wrap(buffer, body, blockLength, version, length);
        return c.stopPosition(proxy, r.correlationIdAsNumber(), r.recordingIdAsNumber());
      }
      case codecs.StartPositionRequestDecoder.TEMPLATE_ID: {
        const r = d.startPosition.wrap(buffer, body, blockLength, version, length);
        return c.startPosition(proxy, r.correlationIdAsNumber(), r.recordingIdAsNumber());
      }
      case codecs.MaxRecordedPositionRequestDecoder.TEMPLATE_ID: {
        const r = d.maxRecordedPosition.wrap(buffer, body, blockLength, version, length);
        return c.maxRecordedPosition(proxy, r.correlationIdAsNumber(), r.recordingIdAsNumber());
      }
      case codecs.FindLastMatchingRecordingRequestDecoder.TEMPLATE_ID: {
        const r = d.findLastMatching.wrap(buffer, body, blockLength, version, length);
        return c.findLastMatchingRecording(proxy, r.correlationIdAsNumber(), r.minRecordingIdAsNumber(), r.sessionId(), r.streamId(), r.channel());
      }
      case codecs.ArchiveIdRequestDecoder.TEMPLATE_ID: {
        const r = d.archiveId.wrap(buffer, body, blockLength, version, length);
        return c.archiveIdRequest(proxy, r.correlationIdAsNumber());
      }
      case codecs.TruncateRecordingRequestDecoder.TEMPLATE_ID: {
        const r = d.truncate.wrap(buffer, body, blockLength, version, length);
        return c.truncateRecording(proxy, r.correlationIdAsNumber(), r.recordingIdAsNumber(), r.positionAsNumber());
      }
      case codecs.PurgeRecordingRequestDecoder.TEMPLATE_ID: {
        const r = d.purge.wrap(buffer, body, blockLength, version, length);
        return c.purgeRecording(proxy, r.correlationIdAsNumber(), r.recordingIdAsNumber());
      }
      case codecs.DetachSegmentsRequestDecoder.TEMPLATE_ID: {
        const r = d.detach.wrap(buffer, body, blockLength, version, length);
        return c.detachSegments(proxy, r.correlationIdAsNumber(), r.recordingIdAsNumber(), r.newStartPositionAsNumber());
      }
      case codecs.DeleteDetachedSegmentsRequestDecoder.TEMPLATE_ID: {
        const r = d.deleteDetached.wrap(buffer, body, blockLength, version, length);
        return c.deleteDetachedSegments(proxy, r.correlationIdAsNumber(), r.recordingIdAsNumber());
      }
      case codecs.PurgeSegmentsRequestDecoder.TEMPLATE_ID: {
        const r = d.purgeSegments.wrap(buffer, body, blockLength, version, length);
        return c.purgeSegments(proxy, r.correlationIdAsNumber(), r.recordingIdAsNumber(), r.newStartPositionAsNumber());
      }
      case codecs.AttachSegmentsRequestDecoder.TEMPLATE_ID: {
        const r = d.attach.wrap(buffer, body, blockLength, version, length);
        return c.attachSegments(proxy, r.correlationIdAsNumber(), r.recordingIdAsNumber());
      }
      case codecs.MigrateSegmentsRequestDecoder.TEMPLATE_ID: {
        const r = d.migrate.wrap(buffer, body, blockLength, version, length);
        return c.migrateSegments(proxy, r.correlationIdAsNumber(), r.srcRecordingIdAsNumber(), r.dstRecordingIdAsNumber());
      }
      case codecs.ReplicateRequestDecoder.TEMPLATE_ID: {
        const r = d.replicate.wrap(buffer, body, blockLength, version, length);
        const srcControlStreamId = r.srcControlStreamId();
        return c.replicate(proxy, r.correlationIdAsNumber(), {
          srcRecordingId: r.srcRecordingIdAsNumber(), dstRecordingId: r.dstRecordingIdAsNumber(), stopPosition: -1, channelTagId: -1, subscriptionTagId: -1,
          srcControlStreamId, srcControlChannel: r.srcControlChannel(), liveDestination: r.liveDestination(), replicationChannel: '', fileIoMaxLength: -1, replicationSessionId: -1, srcResponseChannel: '',
        });
      }
      case codecs.TaggedReplicateRequestDecoder.TEMPLATE_ID: {
        const r = d.taggedReplicate.wrap(buffer, body, blockLength, version, length);
        return c.replicate(proxy, r.correlationIdAsNumber(), {
          srcRecordingId: r.srcRecordingIdAsNumber(), dstRecordingId: r.dstRecordingIdAsNumber(), stopPosition: -1, channelTagId: r.channelTagIdAsNumber(), subscriptionTagId: r.subscriptionTagIdAsNumber(),
          srcControlStreamId: r.srcControlStreamId(), srcControlChannel: r.srcControlChannel(), liveDestination: r.liveDestination(), replicationChannel: '', fileIoMaxLength: -1, replicationSessionId: -1, srcResponseChannel: '',
        });
      }
      case codecs.ReplicateRequest2Decoder.TEMPLATE_ID: {
        const r = d.replicate2.wrap(buffer, body, blockLength, version, length);
        const params = {
          srcRecordingId: r.srcRecordingIdAsNumber(), dstRecordingId: r.dstRecordingIdAsNumber(), stopPosition: r.stopPositionAsNumber(), channelTagId: r.channelTagIdAsNumber(),
          subscriptionTagId: r.subscriptionTagIdAsNumber(), srcControlStreamId: r.srcControlStreamId(),
          fileIoMaxLength: version >= 7 ? r.fileIoMaxLength() : -1, replicationSessionId: version >= 8 ? r.replicationSessionId() : -1,
          srcControlChannel: r.srcControlChannel(), liveDestination: r.liveDestination(), replicationChannel: r.replicationChannel(),
        };
        r.skipEncodedCredentials();
        return c.replicate(proxy, r.correlationIdAsNumber(), { ...params, srcResponseChannel: r.srcResponseChannel() });
      }
      case codecs.StopReplicationRequestDecoder.TEMPLATE_ID: {
        const r = d.stopReplication.wrap(buffer, body, blockLength, version, length);
        return c.stopReplication(proxy, r.correlationIdAsNumber(), r.replicationIdAsNumber());
      }
      default: {
        // A request this archive does not serve yet: say so to the client instead of leaving it waiting.
        if (blockLength >= 16 && length >= 16) {
          const correlationId = Number(new DataView(buffer.buffer, buffer.byteOffset + body + 8, 8).getBigInt64(0, true));
          proxy.sendError(correlationId, ArchiveErrorCode.GENERIC, `request template ${templateId} is not supported by this archive`);
        }
      }
    }
  }
}

function sourceOf(location: codecs.SourceLocation): 'LOCAL' | 'REMOTE' {
  return location === codecs.SourceLocation.LOCAL ? 'LOCAL' : 'REMOTE';
}

/** @internal The roles an Archive plays for the client and its control sessions. */
export type ArchiveRoles = Implements<Agent & ControlSessionListener, Archive>;
