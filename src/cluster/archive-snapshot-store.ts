/**
 * Snapshots as recordings of the member's archive (docs/cluster.md, "The log as a recording"), as
 * Aeron Cluster stores them: each snapshot is a recording of its own, made by publishing on an
 * IPC stream the archive records: a SnapshotMarker BEGIN (schema 111: type id, log position,
 * leadership term, index 0, time unit, app version), the snapshot's bytes in messages of at most
 * 4 KiB, and a SnapshotMarker END. The recording log names the recording.
 *
 * Writes complete in order, one at a time (each its own recording on the same stream). Reading is
 * asynchronous too: {@link prefetch} fetches the snapshot a member will start from before the
 * member is built, and {@link read} answers from what was fetched.
 */
import type { SkeinClient } from '../client/skein-client.js';
import type { Publication } from '../client/publication.js';
import type { ArchiveClient } from '../archive/archive-client.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import { ClusterTimeUnit, MessageHeaderDecoder, SCHEMA_ID, SnapshotMark, SnapshotMarkerDecoder, SnapshotMarkerEncoder } from './codecs/cluster-codecs.js';
import type { SnapshotMeta, SnapshotStore } from './cluster-node.js';
import { awaitRecordingOf, awaitRecordingStopped, readRecording, TimedTask } from './recording-replay.js';
import { CONSENSUS_MODULE_SERVICE_ID } from './recording-log.js';

/** Aeron's snapshot stream id (aeron.cluster.snapshot.stream.id). */
export const DEFAULT_SNAPSHOT_STREAM_ID = 107;
/** Aeron's snapshot type ids: the consensus module's and a clustered service's. */
export const CONSENSUS_MODULE_SNAPSHOT_TYPE_ID = 1;
export const SERVICE_SNAPSHOT_TYPE_ID = 2;
const CHUNK = 4096;
const CHANNEL = 'aeron:ipc?term-length=64k';

export interface ArchiveSnapshotStoreOptions {
  readonly client: SkeinClient;
  readonly archive: ArchiveClient;
  /** @default DEFAULT_SNAPSHOT_STREAM_ID */
  readonly streamId?: number;
  /** IPC stream snapshots are replayed on. @default streamId + 1000 */
  readonly replayStreamId?: number;
  readonly appVersion?: number;
  /** Bound on each archive step. @default 30000 */
  readonly timeoutMs?: number;
}

/** Offers a list of messages on the client's duty cycle, waiting out back pressure. */
class Offerer extends TimedTask {
  readonly roleName = 'cluster-snapshot-writer';
  private index = 0;

  constructor(private readonly publication: Publication, private readonly messages: readonly Uint8Array[], timeoutMs: number, nowNs: number) {
    super(timeoutMs, nowNs);
  }

  protected step(): number {
    let work = 0;
    while (this.index < this.messages.length && this.publication.offer(this.messages[this.index]!) >= 0) {
      this.index++;
      work++;
    }
    return work;
  }

  protected get complete(): boolean {
    return this.index === this.messages.length;
  }

  protected timedOut(): Error {
    return new SkeinError(ErrorCode.TIMEOUT, `snapshot: ${this.index} of ${this.messages.length} messages offered on ${this.publication.channel} before the timeout`);
  }
}

export class ArchiveSnapshotStore implements SnapshotStore {
  private readonly client: SkeinClient;
  private readonly archive: ArchiveClient;
  private readonly streamId: number;
  private readonly replayStreamId: number;
  private readonly appVersion: number;
  private readonly timeoutMs: number;
  private last: Promise<unknown> = Promise.resolve();
  private readonly fetched = new Map<number, Uint8Array>();

  constructor(options: ArchiveSnapshotStoreOptions) {
    this.client = options.client;
    this.archive = options.archive;
    this.streamId = options.streamId ?? DEFAULT_SNAPSHOT_STREAM_ID;
    this.replayStreamId = options.replayStreamId ?? this.streamId + 1000;
    this.appVersion = options.appVersion ?? 0;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  write(bytes: Uint8Array, meta: SnapshotMeta): Promise<number> {
    const result = this.last.then(() => this.record(bytes, meta));
    this.last = result.catch(() => undefined);
    return result;
  }

  read(recordingId: number): Uint8Array | undefined {
    return this.fetched.get(recordingId);
  }

  /** Reads snapshot `recordingId` from the archive, so that {@link read} can answer for it. */
  async prefetch(recordingId: number): Promise<Uint8Array> {
    const descriptor = await this.archive.listRecording(recordingId);
    if (descriptor === null) throw new SkeinError(ErrorCode.STORAGE_FAILED, `snapshot recording ${recordingId} is not in the archive`);
    const messages = await readRecording(this.client, this.archive, recordingId, descriptor.startPosition, descriptor.stopPosition, this.replayStreamId, this.timeoutMs);
    const bad = (why: string): never => {
      throw new SkeinError(ErrorCode.SNAPSHOT_INVALID, `snapshot recording ${recordingId} (${messages.length} messages): ${why}`);
    };
    const header = new MessageHeaderDecoder();
    const marker = new SnapshotMarkerDecoder();
    const markOf = (data: Uint8Array): number | null => {
      if (data.length < 8) return null;
      const h = header.wrap(data, 0, data.length);
      if (h.schemaId() !== SCHEMA_ID || h.templateId() !== SnapshotMarkerDecoder.TEMPLATE_ID) return null;
      return marker.wrapAndCheckHeader(data, 0, data.length).mark();
    };
    if (messages.length < 2 || markOf(messages[0]!.data) !== SnapshotMark.BEGIN) bad('it does not begin with a SnapshotMarker BEGIN');
    if (markOf(messages[messages.length - 1]!.data) !== SnapshotMark.END) bad('it does not end with a SnapshotMarker END (a snapshot cut short)');
    const body = messages.slice(1, -1);
    const bytes = new Uint8Array(body.reduce((n, m) => n + m.data.length, 0));
    let at = 0;
    for (const m of body) {
      bytes.set(m.data, at);
      at += m.data.length;
    }
    this.fetched.set(recordingId, bytes);
    return bytes;
  }

  private async record(bytes: Uint8Array, meta: SnapshotMeta): Promise<number> {
    const typeId = meta.serviceId === CONSENSUS_MODULE_SERVICE_ID ? CONSENSUS_MODULE_SNAPSHOT_TYPE_ID : SERVICE_SNAPSHOT_TYPE_ID;
    const markerOf = (mark: SnapshotMark): Uint8Array => {
      const out = new Uint8Array(8 + SnapshotMarkerEncoder.BLOCK_LENGTH);
      new SnapshotMarkerEncoder().wrapAndApplyHeader(out, 0).typeId(typeId).logPosition(meta.position).leadershipTermId(meta.termId).index(0)
        .mark(mark).timeUnit(ClusterTimeUnit.MILLIS).appVersion(this.appVersion);
      return out;
    };
    const messages: Uint8Array[] = [markerOf(SnapshotMark.BEGIN)];
    for (let at = 0; at < bytes.length; at += CHUNK) messages.push(bytes.subarray(at, Math.min(bytes.length, at + CHUNK)));
    messages.push(markerOf(SnapshotMark.END));
    await this.archive.startRecording('aeron:ipc', this.streamId, 'LOCAL', true);
    const publication = await this.client.addExclusivePublication(CHANNEL, this.streamId);
    try {
      const recordingId = await awaitRecordingOf(this.client, this.archive, this.streamId, publication.sessionId, this.timeoutMs);
      const offerer = new Offerer(publication, messages, this.timeoutMs, this.client.nanoTime());
      this.client.addAgent(offerer);
      try {
        await offerer.done;
      } finally {
        this.client.removeAgent(offerer);
      }
      // Recorded to the end before the publication goes (the recording then stops there).
      const end = publication.position;
      const deadline = this.client.nanoTime() + this.timeoutMs * 1e6;
      while ((await this.archive.getRecordingPosition(recordingId)) < end) {
        if (this.client.nanoTime() > deadline) throw new SkeinError(ErrorCode.TIMEOUT, `snapshot recording ${recordingId} did not reach ${end} within ${this.timeoutMs} ms`);
      }
      publication.close();
      await awaitRecordingStopped(this.client, this.archive, recordingId, this.timeoutMs);
      return recordingId;
    } finally {
      publication.close();
    }
  }
}
