/**
 * A member's consensus log as an archive recording (docs/cluster.md, "The log as a recording"),
 * as Aeron Cluster keeps it: the member writes its log, one message per entry, to an exclusive
 * IPC publication that its archive records, so the recording's positions are the log's positions
 * (padding at term ends and fragments included) and one recording holds the whole history,
 * extended from where it stopped at each start. The candidate term, the terms and the
 * recording's id live in `consensus-state.dat`.
 *
 * The core sees the log in memory, read back from the recording at open; as the member applies
 * entries the oldest leave memory (all but the last `retainedBytes`) when the archive's directory
 * is known, and reads of them (a follower catching up from far behind) go to the recording's
 * segment files. Appends are offered to
 * the publication from the member's duty cycle ({@link doWork}), and what the archive has
 * recorded (read from the archive when it runs in this process, else asked for with
 * getRecordingPosition, one request at a time) is the durable position.
 * Truncating below what was offered stops the recording, truncates it, and extends it again from
 * there with a new publication; entries appended meanwhile wait in memory.
 *
 * States: OPENING (reading the recording back) → WRITING ⇄ RESTARTING (after a truncation below
 * what was offered) → CLOSED; FAILED when the archive refuses or an entry lands elsewhere than
 * the log placed it, with the error in {@link failure}.
 */
import type { SkeinClient } from '../client/skein-client.js';
import type { Publication } from '../client/publication.js';
import type { Agent } from '../agent/agent.js';
import type { ArchiveClient } from '../archive/archive-client.js';
import type { Files } from '../env/files.js';
import { awaitRecordingOf, awaitRecordingStopped, readRecording } from './recording-replay.js';
import { ErrorCode, SkeinError, messageOf } from '../util/errors.js';
import { entryLength, placeEntry, type LogEntry, type LogLayout } from './consensus/consensus-log.js';
import { RecordingReader } from '../archive/recording-reader.js';
import { computeMaxMessageLength } from '../logbuffer/log-buffer-descriptor.js';
import { BEGIN_FRAG_FLAG, DATA_HEADER_LENGTH, END_FRAG_FLAG, FLAGS_FIELD_OFFSET, FRAME_ALIGNMENT, TERM_ID_FIELD_OFFSET, TERM_OFFSET_FIELD_OFFSET, readInt32LE } from '../logbuffer/frame-descriptor.js';
import { align } from '../util/bits.js';
import { PersistedConsensusLog } from './consensus/persisted-consensus-log.js';

export type ArchiveLogState = 'OPENING' | 'WRITING' | 'RESTARTING' | 'FAILED' | 'CLOSED';

/**
 * Term length of the recorded log: 1 MiB, so an entry takes up to 128 KiB (an eighth of a term),
 * a command of the cluster client's default maximum with its session header. Aeron Cluster's log
 * channel defaults to 64 MiB terms (aeron.cluster.log.channel); the MTU is the driver's 1408 bytes.
 */
export const DEFAULT_LOG_TERM_LENGTH = 1024 * 1024;
export const DEFAULT_LOG_MTU = 1408;

export interface ArchiveConsensusLogOptions {
  readonly client: SkeinClient;
  /** Connected to the archive that records this member's log. */
  readonly archive: ArchiveClient;
  readonly files: Files;
  /** The member's directory (for consensus-state.dat). */
  readonly dir: string;
  /** IPC stream the log is published and recorded on. @default 100 */
  readonly streamId?: number;
  /** IPC stream the recording is replayed on at open. @default streamId + 1 */
  readonly replayStreamId?: number;
  /** @default DEFAULT_LOG_TERM_LENGTH */
  readonly termLength?: number;
  /** @default DEFAULT_LOG_MTU */
  readonly mtu?: number;
  /** Bound on reading the recording back and on each archive step. @default 30000 */
  readonly timeoutMs?: number;
  /**
   * How far the archive has recorded a recording, read directly when the archive runs in this
   * process (Archive.recordedPosition); without it the log asks with getRecordingPosition.
   */
  readonly recordedPosition?: (recordingId: number) => number;
  /**
   * The directory of the archive that records the log, when it runs in this process: entries
   * applied long ago are then read back from the recording's segment files and leave memory.
   * Without it every entry stays in memory.
   */
  readonly archiveDir?: string;
  /** Log bytes kept in memory behind the applied position (with archiveDir). @default DEFAULT_RETAINED_LOG_BYTES */
  readonly retainedBytes?: number;
}

const RECORDED_CHANNEL = 'aeron:ipc';
/** The largest block read back from the recording at once (and so the largest entry it can read back). */
const MAX_READ_BACK_BLOCK = 16 * 1024 * 1024;

export class ArchiveConsensusLog extends PersistedConsensusLog implements Agent {
  readonly roleName = 'cluster-log-writer';
  private readonly client: SkeinClient;
  private readonly archive: ArchiveClient;
  private readonly streamId: number;
  private readonly timeoutMs: number;
  private readonly readRecorded: ((recordingId: number) => number) | undefined;
  private stateValue: ArchiveLogState = 'OPENING';
  private failureValue: SkeinError | null = null;
  private recording = -1;
  private initialTermId = 0;
  private publication: Publication | null = null;
  /** Entries appended and not offered yet, in order. */
  private queue: LogEntry[] = [];
  /** End of the last entry offered to the publication. */
  private offeredEnd = 0;
  /** Ends of offered entries not known to be recorded yet, in order. */
  private pendingEnds: number[] = [];
  private durable = 0;
  private positionRequestInFlight = false;
  /** The in-memory log reads released entries from the recording (set once writing began). */
  private backed = false;
  /** Lowest position a truncation asked for while the recording restarts. */
  private restartTo: number | null = null;
  private readonly files: Files;
  private readonly archiveDir: string | undefined;
  private readonly retainedBytes: number | undefined;
  /** Reads released entries back from the recording; kept while reads go on in order. */
  private reader: RecordingReader | null = null;
  /** The whole entries of the last block read back, and where the next read in order is likely to start among them. */
  private cached: LogEntry[] = [];
  private cachedNext = 0;
  /** Where the read of the entries at hand began (before any padding): its first entry comes after it. */
  private cachedFrom = -1;
  private segmentLength = 0;
  private recordingStart = 0;

  private constructor(options: ArchiveConsensusLogOptions, layout: LogLayout) {
    super(options.files, options.dir, layout);
    this.client = options.client;
    this.archive = options.archive;
    this.streamId = options.streamId ?? 100;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.readRecorded = options.recordedPosition;
    this.files = options.files;
    this.archiveDir = options.archiveDir;
    this.retainedBytes = options.retainedBytes;
  }

  /** Reads the member's log back from its recording (if it has one) and starts recording what is appended. */
  static async open(options: ArchiveConsensusLogOptions): Promise<ArchiveConsensusLog> {
    const termLength = options.termLength ?? DEFAULT_LOG_TERM_LENGTH;
    const mtu = options.mtu ?? DEFAULT_LOG_MTU;
    const log = new ArchiveConsensusLog(options, { termLength, maxPayloadLength: mtu - 32 });
    try {
      await log.recover(options.replayStreamId ?? log.streamId + 1, mtu);
      await log.startWriting(log.inner.appendPosition);
    } catch (error) {
      log.close();
      throw error;
    }
    log.client.addAgent(log);
    return log;
  }

  get state(): ArchiveLogState {
    return this.stateValue;
  }

  /** Why the log stopped working (the member must stop), or null. */
  get failure(): SkeinError | null {
    return this.failureValue;
  }

  /** The archive recording that holds this log. */
  get recordingId(): number {
    return this.recording;
  }

  get durablePosition(): number {
    return this.durable;
  }

  /** Longest entry the log takes: the longest message its recorded stream's terms take (an eighth of a term). */
  get maxEntryLength(): number {
    return computeMaxMessageLength(this.layout.termLength);
  }

  append(termId: number, data: Uint8Array): LogEntry {
    this.checkUsable();
    // Refused before anything changes: an entry the publication cannot take would stay at the
    // head of the queue and hold every later one back.
    if (data.length > this.maxEntryLength) {
      throw new SkeinError(ErrorCode.MESSAGE_TOO_LONG, `log recording ${this.recording} (stream ${this.streamId}): a log entry of ${data.length} bytes is longer than the ${this.maxEntryLength} the log's ${this.layout.termLength}-byte terms take`, { streamId: this.streamId });
    }
    const newTerm = this.inner.termBase(termId) === undefined;
    const entry = this.inner.append(termId, data);
    if (newTerm) this.writeState();
    this.queue.push(entry);
    this.pump();
    return entry;
  }

  truncate(position: number): void {
    this.checkUsable();
    if (position >= this.inner.appendPosition) return;
    this.forgetReadBack();
    this.inner.truncate(position);
    this.writeState();
    if (this.durable > position) this.durable = position;
    this.pendingEnds = this.pendingEnds.filter((end) => end <= position);
    if (this.stateValue === 'WRITING' && position >= this.offeredEnd) {
      // Only entries not offered yet go: the recording is untouched.
      this.queue = this.queue.filter((e) => e.position < position);
      return;
    }
    this.restartTo = this.restartTo === null ? position : Math.min(this.restartTo, position);
    if (this.stateValue === 'WRITING') void this.restart();
  }

  /** Offers what is queued and asks how far the archive has recorded; on the member's duty cycle. */
  doWork(_nowNs: number): number {
    if (this.stateValue !== 'WRITING') return 0;
    let work = this.pump();
    if (this.readRecorded !== undefined) {
      if (this.pendingEnds.length > 0) {
        const before = this.durable;
        this.onRecorded(this.recording, this.readRecorded(this.recording));
        if (this.durable !== before) work++;
      }
    } else if (!this.positionRequestInFlight && this.pendingEnds.length > 0) {
      this.positionRequestInFlight = true;
      const recording = this.recording;
      this.archive.getRecordingPosition(recording).then(
        (recorded) => this.onRecorded(recording, recorded),
        (error: unknown) => this.fail(error, `asking how far recording ${recording} is recorded`),
      );
      work++;
    }
    return work;
  }

  /** Closes the publication (the recording stops there) and stops working. Idempotent. */
  close(): void {
    if (this.stateValue === 'CLOSED') return;
    this.stateValue = 'CLOSED';
    this.forgetReadBack();
    this.client.removeAgent(this);
    this.publication?.close();
    this.publication = null;
  }

  /** @internal */
  onClose(): void {
    this.close();
  }

  // -----------------------------------------------------------------------------------------------

  private async recover(replayStreamId: number, mtu: number): Promise<void> {
    const state = this.stateFile.read();
    this.inner.candidateTermId = state.candidateTermId;
    this.recording = state.recordingId;
    const terms = [...state.terms].sort((a, b) => a.base - b.base);
    if (this.recording < 0) {
      if (terms.length > 0) this.writeState();
      return;
    }
    const descriptor = await this.archive.listRecording(this.recording);
    if (descriptor === null) throw new SkeinError(ErrorCode.STORAGE_FAILED, `${this.stateFile.path} names log recording ${this.recording}, which the archive does not hold`);
    if (descriptor.termBufferLength !== this.layout.termLength || descriptor.mtuLength !== mtu) {
      throw new SkeinError(ErrorCode.CONFIG_INVALID, `log recording ${this.recording} has term length ${descriptor.termBufferLength} and MTU ${descriptor.mtuLength}; this member is configured with ${this.layout.termLength} and ${mtu}`);
    }
    this.initialTermId = descriptor.initialTermId;
    this.segmentLength = descriptor.segmentFileLength;
    this.recordingStart = descriptor.startPosition;
    const stop = descriptor.stopPosition;
    if (stop < 0) throw new SkeinError(ErrorCode.STORAGE_FAILED, `log recording ${this.recording} is still being recorded: is another member using ${this.stateFile.path}?`);
    let t = 0;
    for (const m of await this.recordedMessages(descriptor.startPosition, stop, replayStreamId)) {
      const position = m.end - entryLength(m.data.length, this.layout);
      const end = this.inner.appendPosition;
      if (position !== placeEntry(end, m.data.length, this.layout)) {
        throw new SkeinError(ErrorCode.STORAGE_FAILED, `log recording ${this.recording}: the entry ending at ${m.end} is not where the log places an entry of ${m.data.length} bytes after ${end}`);
      }
      t = this.joinTermsAt(terms, t);
      const termId = this.inner.logTermId;
      if (termId < 0) throw new SkeinError(ErrorCode.STORAGE_FAILED, `log recording ${this.recording}: an entry at ${position} comes before any term in ${this.stateFile.path}`);
      this.inner.append(termId, m.data);
      // Read from the segment files, the entries leave memory as they are read (all but the window).
      this.inner.releaseBefore(this.inner.appendPosition);
    }
    this.joinTermsAt(terms, t);
    const end = this.inner.appendPosition;
    // A message cut short by a crash: the recording goes back to the last whole entry.
    if (stop > end) await this.archive.truncateRecording(this.recording, end);
    this.settleTerms(terms);
    this.forgetReadBack();
    this.durable = end;
  }

  /**
   * The recording's messages from `start` to `stop`: read from its segment files in batches when
   * the archive's directory is known (so that, with the log released as it is read, memory never
   * holds the whole history), else replayed on IPC. A message cut short at the end (a crash while
   * it was being recorded) is left out.
   */
  private async recordedMessages(start: number, stop: number, replayStreamId: number): Promise<Iterable<{ readonly end: number; readonly data: Uint8Array }>> {
    if (this.archiveDir === undefined) return readRecording(this.client, this.archive, this.recording, start, stop, replayStreamId, this.timeoutMs);
    this.enableReadBack();
    // What is recorded can be read back (and released) while the log is read.
    this.durable = stop;
    return this.scanRecorded(start, stop);
  }

  private *scanRecorded(start: number, stop: number): Generator<{ readonly end: number; readonly data: Uint8Array }> {
    let at = start;
    while (at < stop) {
      const batch = this.readBack(at, 1024 * 1024);
      if (batch.length === 0) return;
      for (const e of batch) yield { end: e.position + e.length, data: e.data };
      at = batch[batch.length - 1]!.position + batch[batch.length - 1]!.length;
    }
  }

  /** From now on released entries are read back from the recording's segment files (with archiveDir). */
  private enableReadBack(): void {
    if (this.archiveDir === undefined || this.backed) return;
    this.backed = true;
    this.inner.setBacking({
      // Only what the archive has recorded can be read back.
      limit: () => this.durable,
      read: (from, maxBytes) => this.readBack(from, maxBytes),
      isEntryEnd: (at) => at === this.durable || this.entryEndsAt(at),
    }, this.retainedBytes);
  }

  private channelAt(position: number): string {
    const termLength = this.layout.termLength;
    const termId = this.initialTermId + Math.floor(position / termLength);
    return `${RECORDED_CHANNEL}?term-length=${termLength}|mtu=${this.layout.maxPayloadLength + 32}|init-term-id=${this.initialTermId}|term-id=${termId}|term-offset=${position % termLength}`;
  }

  /** A publication at `position`, recorded into this member's recording (a new one the first time). */
  private async startWriting(position: number): Promise<void> {
    if (this.recording < 0) {
      await this.archive.startRecording(RECORDED_CHANNEL, this.streamId, 'LOCAL', true);
      this.publication = await this.client.addExclusivePublication(this.channelAt(0), this.streamId);
      this.recording = await awaitRecordingOf(this.client, this.archive, this.streamId, this.publication.sessionId, this.timeoutMs);
      this.writeState();
      const descriptor = await this.archive.listRecording(this.recording);
      if (descriptor === null) throw new SkeinError(ErrorCode.STORAGE_FAILED, `log recording ${this.recording} is not in the archive's catalog after it started`);
      this.initialTermId = descriptor.initialTermId;
      this.segmentLength = descriptor.segmentFileLength;
      this.recordingStart = descriptor.startPosition;
    } else {
      await this.archive.extendRecording(this.recording, RECORDED_CHANNEL, this.streamId, 'LOCAL', true);
      this.publication = await this.client.addExclusivePublication(this.channelAt(position), this.streamId);
    }
    this.offeredEnd = position;
    this.queue = this.inner.entriesFrom(position, Number.POSITIVE_INFINITY);
    this.stateValue = 'WRITING';
    this.enableReadBack();
  }

  /** Stops the recording, truncates it to where the log now agrees with it, and extends it from there. */
  private async restart(): Promise<void> {
    this.stateValue = 'RESTARTING';
    try {
      while (this.restartTo !== null) {
        const target = this.restartTo;
        this.restartTo = null;
        this.publication?.close();
        this.publication = null;
        // The recording stops once the archive has recorded what the publication held.
        const stop = await awaitRecordingStopped(this.client, this.archive, this.recording, this.timeoutMs);
        const cut = this.lastEntryEndAtOrBefore(Math.min(target, stop, this.inner.appendPosition));
        if (cut < stop) await this.archive.truncateRecording(this.recording, cut);
        if (this.durable > cut) this.durable = cut;
        this.pendingEnds = [];
        if (this.restartTo !== null) continue;
        await this.startWriting(cut);
      }
    } catch (error) {
      this.fail(error, `restarting log recording ${this.recording}`);
    }
  }

  private lastEntryEndAtOrBefore(position: number): number {
    if (this.inner.isEntryEnd(position)) return position;
    let end = this.inner.releasedPosition;
    for (const e of this.inner.entriesFrom(end, Number.POSITIVE_INFINITY)) {
      if (e.position + e.length > position) break;
      end = e.position + e.length;
    }
    return end;
  }

  private pump(): number {
    if (this.stateValue !== 'WRITING' || this.publication === null) return 0;
    let offered = 0;
    while (this.queue.length > 0) {
      const entry = this.queue[0]!;
      const result = this.publication.offer(entry.data);
      if (result < 0) break;
      if (result !== entry.position + entry.length) {
        this.fail(new SkeinError(ErrorCode.STORAGE_FAILED, `log entry of ${entry.data.length} bytes for ${entry.position}-${entry.position + entry.length} was recorded up to ${result}`), `writing log recording ${this.recording}`);
        return offered;
      }
      this.queue.shift();
      this.offeredEnd = result;
      this.pendingEnds.push(result);
      offered++;
    }
    return offered;
  }

  /**
   * Entries read back from the recording's segment files, from the first that begins at or after
   * `from` (an entry start or end below the recorded position), up to `maxBytes` (at least one).
   * The entries of the last block read stay at hand and the reader stays where that block ended,
   * so reads in order (a follower caught up in batches, a replay from a snapshot, the log read at
   * open) read each block once; a read from elsewhere opens a new reader.
   */
  private readBack(from: number, maxBytes: number, probe = false): LogEntry[] {
    const out: LogEntry[] = [];
    let bytes = 0;
    let at = from;
    while (at < this.durable && (out.length === 0 || bytes < maxBytes)) {
      let index = this.cachedIndex(at);
      if (index < 0) {
        if (!this.readBlock(at, probe)) break;
        index = this.cachedIndex(at);
        if (index < 0) break;
      }
      let e = this.cached[index]!;
      // Its term as the log now holds its terms (they may have been read after the block).
      const termId = this.inner.termAt(e.position);
      if (e.termId !== termId) e = this.cached[index] = { ...e, termId };
      out.push(e);
      bytes += e.length;
      at = e.position + e.length;
    }
    return out;
  }

  /** The index in the entries at hand of the one that begins at `at` or right after an entry ending at `at`; -1 when none. */
  private cachedIndex(at: number): number {
    const cached = this.cached;
    if (at === this.cachedFrom && cached.length > 0) return (this.cachedNext = 0);
    for (let i = this.cachedNext; i < cached.length; i++) {
      const e = cached[i]!;
      if (e.position === at) return (this.cachedNext = i);
      if (e.position + e.length === at) return i + 1 < cached.length ? (this.cachedNext = i + 1) : -1;
      if (e.position > at) break;
    }
    for (let i = 0; i < this.cachedNext && i < cached.length; i++) {
      const e = cached[i]!;
      if (e.position === at) return (this.cachedNext = i);
      if (e.position + e.length === at) return (this.cachedNext = i + 1);
    }
    return -1;
  }

  /**
   * Reads the block of whole frames at `at` (after any padding there) and keeps its whole entries
   * at hand; false when there is none (nothing recorded there, or only an entry cut short at the
   * end of the recording by a crash).
   */
  private readBlock(at: number, probe = false): boolean {
    if (this.reader === null || this.reader.position !== at) {
      this.reader?.close();
      this.reader = this.readerAt(at);
    }
    const reader = this.reader;
    const limit = this.durable;
    for (;;) {
      const length = reader.read(limit, 0, this.streamId);
      if (length === 0) return false;
      // A probe may land inside an entry, where payload bytes read as a frame header: no frame begins there.
      if (probe && !this.frameSitsAt(reader.buffer, reader.position)) return false;
      if (reader.paddingLength === 0) break;
      reader.consume();
    }
    const length = reader.blockLength;
    const block = reader.buffer;
    const entries: LogEntry[] = [];
    let offset = 0;
    let start = -1;
    let parts: Uint8Array[] = [];
    while (offset < length) {
      const frameLength = readInt32LE(block, offset);
      const flags = block[offset + FLAGS_FIELD_OFFSET]!;
      if ((flags & BEGIN_FRAG_FLAG) !== 0) {
        parts = [];
        start = offset;
      } else if (start < 0) {
        if (probe) return false;
        throw new SkeinError(ErrorCode.STORAGE_FAILED, `log recording ${this.recording}: a fragment at ${reader.position + offset} begins no entry (reading from ${at})`);
      }
      parts.push(block.slice(offset + DATA_HEADER_LENGTH, offset + frameLength));
      offset += align(frameLength, FRAME_ALIGNMENT);
      if ((flags & END_FRAG_FLAG) !== 0) {
        const position = reader.position + start;
        entries.push({ termId: this.inner.termAt(position), position, length: offset - start, data: parts.length === 1 ? parts[0]! : concat(parts) });
        start = -1;
      }
    }
    if (start >= 0 && entries.length === 0 && reader.position + length < limit) {
      throw new SkeinError(ErrorCode.STORAGE_FAILED, `log recording ${this.recording}: the entry at ${reader.position + start} does not end within ${length} bytes read (reading from ${at})`);
    }
    this.cached = entries;
    this.cachedNext = 0;
    this.cachedFrom = at;
    if (start >= 0) {
      // An entry the block cut short (by the buffer's length, or the end of the recording): the next read starts again at it.
      const next = reader.position + start;
      reader.close();
      this.reader = this.readerAt(next);
    } else {
      reader.consume();
    }
    return entries.length > 0;
  }

  /** Drops the reader and the entries at hand (after a truncation they may no longer be the log's). */
  private forgetReadBack(): void {
    this.reader?.close();
    this.reader = null;
    this.cached = [];
    this.cachedNext = 0;
    this.cachedFrom = -1;
  }

  private readerAt(position: number): RecordingReader {
    const layout = { recordingId: this.recording, startPosition: this.recordingStart, initialTermId: this.initialTermId, termLength: this.layout.termLength, segmentLength: this.segmentLength, streamId: this.streamId };
    // A block holds at least one whole entry: an entry never crosses a term.
    return new RecordingReader(this.files, this.archiveDir!, layout, position, Math.max(64 * 1024, Math.min(this.layout.termLength, MAX_READ_BACK_BLOCK)));
  }

  /**
   * Whether an entry of the recording ends at `position` (below what is recorded): the next entry
   * begins there, or after the padding that fills the rest of its term (an entry never crosses a
   * term). The check behind isEntryEnd below memory; a storage failure is thrown, not taken for
   * "no".
   */
  private entryEndsAt(position: number): boolean {
    if (position % FRAME_ALIGNMENT !== 0) return false;
    let next: LogEntry | undefined;
    try {
      next = this.readBack(position, 0, true)[0];
    } catch (error) {
      // Payload bytes read as a frame longer than the read buffer: no frame begins there.
      if (error instanceof SkeinError && error.code === ErrorCode.ARG_INVALID) return false;
      throw error;
    }
    if (next === undefined) return false;
    const termLength = this.layout.termLength;
    return next.position === position || (next.position % termLength === 0 && position < next.position && next.position - position < termLength);
  }

  /** Whether the frame header at the start of `block` carries the term offset and term id of `position`. */
  private frameSitsAt(block: Uint8Array, position: number): boolean {
    const termLength = this.layout.termLength;
    return readInt32LE(block, TERM_OFFSET_FIELD_OFFSET) === position % termLength && readInt32LE(block, TERM_ID_FIELD_OFFSET) === ((this.initialTermId + Math.floor(position / termLength)) | 0);
  }

  private onRecorded(recording: number, recorded: number): void {
    if (this.readRecorded === undefined) this.positionRequestInFlight = false;
    if (recording !== this.recording || this.stateValue !== 'WRITING') return;
    while (this.pendingEnds.length > 0 && this.pendingEnds[0]! <= recorded) this.durable = this.pendingEnds.shift()!;
  }

  private fail(error: unknown, doing: string): void {
    if (this.stateValue === 'CLOSED' || this.stateValue === 'FAILED') return;
    this.failureValue = error instanceof SkeinError ? error : new SkeinError(ErrorCode.STORAGE_FAILED, `${doing}: ${messageOf(error)}`, { cause: error });
    this.stateValue = 'FAILED';
    this.publication?.close();
    this.publication = null;
  }

  protected get stateRecordingId(): number {
    return this.recording;
  }

  protected checkUsable(): void {
    if (this.stateValue === 'FAILED') throw this.failureValue!;
    if (this.stateValue === 'CLOSED') throw new SkeinError(ErrorCode.STORAGE_FAILED, `log recording ${this.recording} is closed`);
  }

}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
