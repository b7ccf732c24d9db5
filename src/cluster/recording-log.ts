/**
 * The recording log, `recording.log` in the cluster directory (docs/cluster.md, "Recording log"):
 * which archive recording holds the log of each leadership term, and which recordings hold the
 * snapshots taken at which log positions. Aeron Cluster's file layout, so its ClusterTool reads
 * ours. Little-endian records, each starting at a multiple of 64 bytes:
 *
 * ```
 *   0  recordingId          int64   the log recording (TERM) or the snapshot's recording
 *   8  leadershipTermId     int64
 *  16  termBaseLogPosition  int64   where the term began
 *  24  logPosition          int64   TERM: where it ended (-1 while open); SNAPSHOT: its position
 *  32  timestamp            int64   cluster time
 *  40  serviceId            int32   SNAPSHOT: the service, -1 for the consensus module
 *  44  entryType            int32   0 TERM, 1 SNAPSHOT, 2 STANDBY_SNAPSHOT; bit 31 = invalidated
 *  48  STANDBY_SNAPSHOT: archive endpoint, int32 length + ASCII
 * ```
 *
 * Entries are only appended; a change (a term's end position, an invalidation) rewrites the
 * field in place. In memory they are sorted by term, then term base, then type (a term before the
 * snapshots of that term), snapshots by position and then by descending service id, so the
 * consensus module's snapshot (service -1) closes each set and service k's snapshot sits k + 1
 * entries before it. Every term entry of one member names the same log recording: each new term
 * extends it.
 */
import type { FileHandle, Files } from '../env/files.js';
import { ErrorCode, SkeinError } from '../util/errors.js';

export const RECORDING_LOG_FILE = 'recording.log';
export const RECORDING_LOG_ALIGNMENT = 64;
/** The longest record Aeron writes (a standby snapshot with its endpoint). */
export const RECORDING_LOG_MAX_ENTRY_LENGTH = 4096;
const HEADER_LENGTH = 48;
const ENDPOINT_OFFSET = 48;
const LOG_POSITION_OFFSET = 24;
const ENTRY_TYPE_OFFSET = 44;
const INVALID_FLAG = 1 << 31;
/** The service id of the consensus module's own snapshots. */
export const CONSENSUS_MODULE_SERVICE_ID = -1;
const NULL_VALUE = -1;

export const EntryType = { TERM: 0, SNAPSHOT: 1, STANDBY_SNAPSHOT: 2 } as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/** A snapshot the recovery plan loads (and the fields every entry has). */
export interface PlannedSnapshot {
  readonly recordingId: number;
  readonly leadershipTermId: number;
  readonly termBaseLogPosition: number;
  readonly logPosition: number;
  readonly timestamp: number;
  readonly serviceId: number;
}

export interface RecordingLogEntry extends PlannedSnapshot {
  readonly type: EntryType;
  readonly isValid: boolean;
  /** STANDBY_SNAPSHOT only. */
  readonly archiveEndpoint: string | null;
  /** Where the record starts in the file. */
  readonly fileOffset: number;
  /** Order of appending (ties between term entries). */
  readonly appendIndex: number;
}

/** The extent of a log recording, from the archive's catalog. */
export interface RecordingExtent {
  readonly startPosition: number;
  /** -1 while recording. */
  readonly stopPosition: number;
}

/** What a member loads and replays at start (Aeron's RecoveryPlan). */
export interface RecoveryPlan {
  readonly lastLeadershipTermId: number;
  readonly lastTermBaseLogPosition: number;
  /** How far the log recording goes (or the snapshot's position without a log). */
  readonly appendedLogPosition: number;
  /** How far the log is known committed (the last term's end when it has one, else the snapshot). */
  readonly committedLogPosition: number;
  /** The consensus module's snapshot first, then service k's at index k + 1; empty without a snapshot. */
  readonly snapshots: readonly PlannedSnapshot[];
  /** The log to replay from the snapshot (or its start) to its stop position; null without a term. */
  readonly log: {
    readonly recordingId: number;
    readonly leadershipTermId: number;
    readonly termBaseLogPosition: number;
    readonly logPosition: number;
    readonly startPosition: number;
    readonly stopPosition: number;
  } | null;
}

export interface RecordingLogOptions {
  readonly files: Files;
  readonly clusterDir: string;
  /** 0: no sync; 1: data synced after every change; 2: data and metadata. @default 0 */
  readonly fileSyncLevel?: 0 | 1 | 2;
}

function compareEntries(a: RecordingLogEntry, b: RecordingLogEntry): number {
  if (a.leadershipTermId !== b.leadershipTermId) return a.leadershipTermId - b.leadershipTermId;
  if (a.termBaseLogPosition !== b.termBaseLogPosition) return a.termBaseLogPosition - b.termBaseLogPosition;
  if (a.type !== b.type) {
    if (a.type === EntryType.TERM) return -1;
    if (b.type === EntryType.TERM) return 1;
    return a.type - b.type;
  }
  if (a.type === EntryType.TERM) return a.appendIndex - b.appendIndex;
  if (a.logPosition !== b.logPosition) return a.logPosition - b.logPosition;
  return b.serviceId - a.serviceId;
}

function isValidSnapshot(e: RecordingLogEntry): boolean {
  return e.isValid && e.type === EntryType.SNAPSHOT;
}

export class RecordingLog {
  readonly path: string;
  private readonly file: FileHandle;
  private readonly syncLevel: 0 | 1 | 2;
  private sorted: RecordingLogEntry[] = [];
  private nextOffset = 0;
  private nextAppendIndex = 0;
  private termRecordingId = NULL_VALUE;
  private closed = false;
  private readonly scratch = new Uint8Array(RECORDING_LOG_MAX_ENTRY_LENGTH);
  private readonly view = new DataView(this.scratch.buffer);

  private constructor(path: string, file: FileHandle, syncLevel: 0 | 1 | 2) {
    this.path = path;
    this.file = file;
    this.syncLevel = syncLevel;
  }

  /** Opens (creating when absent) and loads the recording log; a torn last record is dropped. */
  static open(options: RecordingLogOptions): RecordingLog {
    const syncLevel = options.fileSyncLevel ?? 0;
    if (syncLevel !== 0 && syncLevel !== 1 && syncLevel !== 2) throw new SkeinError(ErrorCode.CONFIG_INVALID, `fileSyncLevel=${String(syncLevel)} is invalid; expected 0, 1 or 2`);
    const { files, clusterDir } = options;
    files.mkdirs(clusterDir);
    const path = `${clusterDir}/${RECORDING_LOG_FILE}`;
    const file = files.open(path, files.exists(path) ? 'write' : 'create');
    const log = new RecordingLog(path, file, syncLevel);
    try {
      log.load();
    } catch (error) {
      file.close();
      throw error;
    }
    return log;
  }

  /** Every entry, valid or not, in the log's order. */
  get entries(): readonly RecordingLogEntry[] {
    return this.sorted;
  }

  /** The recording that holds the log (every term's), or -1 before the first term. */
  get logRecordingId(): number {
    return this.termRecordingId;
  }

  findTerm(leadershipTermId: number): RecordingLogEntry | undefined {
    return this.sorted.find((e) => e.type === EntryType.TERM && e.isValid && e.leadershipTermId === leadershipTermId);
  }

  /** The valid term entry with the highest term id. */
  lastTerm(): RecordingLogEntry | undefined {
    for (let i = this.sorted.length - 1; i >= 0; i--) {
      const e = this.sorted[i]!;
      if (e.type === EntryType.TERM && e.isValid) return e;
    }
    return undefined;
  }

  /**
   * Records that `leadershipTermId` began at `termBaseLogPosition` in `recordingId`. Ends the
   * previous term there when it is known; a term older than a known one (replicated late) ends
   * where the next one begins.
   */
  appendTerm(recordingId: number, leadershipTermId: number, termBaseLogPosition: number, timestamp: number): void {
    this.checkOpen();
    checkLong('recordingId', recordingId, 0);
    checkLong('leadershipTermId', leadershipTermId, 0);
    checkLong('termBaseLogPosition', termBaseLogPosition, 0);
    if (this.termRecordingId !== NULL_VALUE && recordingId !== this.termRecordingId) {
      throw new SkeinError(ErrorCode.ARG_INVALID, `recording log '${this.path}': TERM ${leadershipTermId} names recording ${recordingId}, but the log is recording ${this.termRecordingId}`);
    }
    if (this.findTerm(leadershipTermId) !== undefined) throw new SkeinError(ErrorCode.ARG_INVALID, `recording log '${this.path}': duplicate TERM entry for leadershipTermId=${leadershipTermId}`);
    const previous = this.findTerm(leadershipTermId - 1);
    if (previous !== undefined) this.commitLogPosition(leadershipTermId - 1, termBaseLogPosition);
    const next = this.findTerm(leadershipTermId + 1);
    this.append(EntryType.TERM, recordingId, leadershipTermId, termBaseLogPosition, next === undefined ? NULL_VALUE : next.termBaseLogPosition, timestamp, NULL_VALUE, null);
    this.termRecordingId = recordingId;
  }

  /** Records a snapshot; one that matches an invalidated entry makes that entry valid again instead. */
  appendSnapshot(recordingId: number, leadershipTermId: number, termBaseLogPosition: number, logPosition: number, timestamp: number, serviceId: number): void {
    this.checkOpen();
    checkLong('recordingId', recordingId, 0);
    checkLong('leadershipTermId', leadershipTermId, 0);
    checkLong('logPosition', logPosition, 0);
    if (!(Number.isInteger(serviceId) && serviceId >= CONSENSUS_MODULE_SERVICE_ID && serviceId < 128)) {
      throw new SkeinError(ErrorCode.ARG_INVALID, `recording log '${this.path}': serviceId=${String(serviceId)} is invalid; expected -1 (the consensus module) to 127`);
    }
    const index = this.sorted.findIndex(
      (e) => !e.isValid && e.type === EntryType.SNAPSHOT && e.leadershipTermId === leadershipTermId && e.termBaseLogPosition === termBaseLogPosition && e.logPosition === logPosition && e.serviceId === serviceId,
    );
    if (index >= 0) {
      const old = this.sorted[index]!;
      const restored: RecordingLogEntry = { ...old, recordingId, timestamp, isValid: true };
      this.encode(restored);
      this.writeAt(old.fileOffset, 0, HEADER_LENGTH);
      this.sorted[index] = restored;
      return;
    }
    this.append(EntryType.SNAPSHOT, recordingId, leadershipTermId, termBaseLogPosition, logPosition, timestamp, serviceId, null);
  }

  /** Sets where a term ended (or how far it is committed). */
  commitLogPosition(leadershipTermId: number, logPosition: number): void {
    this.checkOpen();
    const index = this.sorted.findIndex((e) => e.type === EntryType.TERM && e.isValid && e.leadershipTermId === leadershipTermId);
    if (index < 0) throw new SkeinError(ErrorCode.ARG_INVALID, `recording log '${this.path}': unknown leadershipTermId=${leadershipTermId}`);
    const entry = this.sorted[index]!;
    if (entry.logPosition === logPosition) return;
    this.view.setBigInt64(0, BigInt(logPosition), true);
    this.writeAt(entry.fileOffset + LOG_POSITION_OFFSET, 0, 8);
    this.sorted[index] = { ...entry, logPosition };
  }

  /** Marks the entry at `index` (of {@link entries}) invalid; it stays in the file with bit 31 of its type set. */
  invalidateEntry(index: number): void {
    this.checkOpen();
    const entry = this.sorted[index];
    if (entry === undefined) throw new SkeinError(ErrorCode.ARG_INVALID, `recording log '${this.path}': no entry at index ${index} (there are ${this.sorted.length})`);
    if (!entry.isValid) return;
    this.view.setInt32(0, entry.type | INVALID_FLAG, true);
    this.writeAt(entry.fileOffset + ENTRY_TYPE_OFFSET, 0, 4);
    this.sorted[index] = { ...entry, isValid: false };
    if (entry.type === EntryType.TERM && this.lastTerm() === undefined) this.termRecordingId = NULL_VALUE;
  }

  /**
   * Invalidates the latest complete snapshot set (the consensus module's snapshot and the
   * services' before it at the same position), so the next start recovers from the one before.
   * Returns false when there is none.
   */
  invalidateLatestSnapshot(): boolean {
    const cm = this.latestSnapshotIndex();
    if (cm < 0) return false;
    if (this.findTerm(this.sorted[cm]!.leadershipTermId) === undefined) {
      throw new SkeinError(ErrorCode.STORAGE_FAILED, `recording log '${this.path}': snapshot at position ${this.sorted[cm]!.logPosition} names term ${this.sorted[cm]!.leadershipTermId}, which the log does not hold`);
    }
    const position = this.sorted[cm]!.logPosition;
    let expected = CONSENSUS_MODULE_SERVICE_ID;
    for (let i = cm; i >= 0; i--) {
      const e = this.sorted[i]!;
      if (!isValidSnapshot(e) || e.serviceId !== expected || e.logPosition !== position) break;
      this.invalidateEntry(i);
      expected++;
    }
    return true;
  }

  /** The latest valid snapshot of `serviceId` that belongs to a complete set closed by the consensus module's. */
  latestSnapshot(serviceId: number): RecordingLogEntry | undefined {
    for (let i = this.sorted.length - 1; i >= 0; i--) {
      const cm = this.sorted[i]!;
      if (!isValidSnapshot(cm) || cm.serviceId !== CONSENSUS_MODULE_SERVICE_ID) continue;
      if (serviceId === CONSENSUS_MODULE_SERVICE_ID) return cm;
      const candidate = this.sorted[i - (serviceId + 1)];
      if (candidate !== undefined && isValidSnapshot(candidate) && candidate.serviceId === serviceId && candidate.logPosition === cm.logPosition) return candidate;
    }
    return undefined;
  }

  /**
   * What to load and replay at start, for `serviceCount` services: the latest valid snapshot set
   * and the log after it. `extentOf` gives a log recording's extent from the archive; a term naming
   * a recording the archive does not know, or a snapshot set missing a service, is an error naming it.
   */
  recoveryPlan(serviceCount: number, extentOf: (recordingId: number) => RecordingExtent | undefined): RecoveryPlan {
    this.checkOpen();
    const cm = this.latestSnapshotIndex();
    const snapshots: PlannedSnapshot[] = [];
    if (cm >= 0) {
      const head = this.sorted[cm]!;
      snapshots.push(planned(head));
      for (let k = 0; k < serviceCount; k++) {
        const e = this.sorted[cm - (k + 1)];
        if (e === undefined || !isValidSnapshot(e) || e.serviceId !== k || e.leadershipTermId !== head.leadershipTermId || e.logPosition !== head.logPosition) {
          throw new SkeinError(ErrorCode.STORAGE_FAILED, `recording log '${this.path}': the snapshot set at log position ${head.logPosition} (term ${head.leadershipTermId}) has no valid snapshot for service ${k} of ${serviceCount}`);
        }
        snapshots.push(planned(e));
      }
    }
    let lastLeadershipTermId = NULL_VALUE;
    let lastTermBaseLogPosition = 0;
    let appendedLogPosition = 0;
    let committedLogPosition = 0;
    if (snapshots.length > 0) {
      const s = snapshots[0]!;
      lastLeadershipTermId = s.leadershipTermId;
      lastTermBaseLogPosition = s.termBaseLogPosition;
      appendedLogPosition = s.logPosition;
      committedLogPosition = s.logPosition;
    }
    let log: RecoveryPlan['log'] = null;
    const term = this.lastTerm();
    if (term !== undefined) {
      const extent = extentOf(term.recordingId);
      if (extent === undefined) throw new SkeinError(ErrorCode.STORAGE_FAILED, `recording log '${this.path}': term ${term.leadershipTermId} names log recording ${term.recordingId}, which the archive does not hold`);
      const startPosition = snapshots.length > 0 ? snapshots[0]!.logPosition : extent.startPosition;
      log = {
        recordingId: term.recordingId, leadershipTermId: term.leadershipTermId, termBaseLogPosition: term.termBaseLogPosition, logPosition: term.logPosition,
        startPosition, stopPosition: extent.stopPosition,
      };
      lastLeadershipTermId = term.leadershipTermId;
      lastTermBaseLogPosition = term.termBaseLogPosition;
      appendedLogPosition = extent.stopPosition;
      if (term.logPosition !== NULL_VALUE) committedLogPosition = term.logPosition;
    }
    return { lastLeadershipTermId, lastTermBaseLogPosition, appendedLogPosition, committedLogPosition, snapshots, log };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Closes the file; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.file.close();
  }

  // ---------------------------------------------------------------------------------------------

  private latestSnapshotIndex(): number {
    for (let i = this.sorted.length - 1; i >= 0; i--) {
      const e = this.sorted[i]!;
      if (isValidSnapshot(e) && e.serviceId === CONSENSUS_MODULE_SERVICE_ID) return i;
    }
    return -1;
  }

  private load(): void {
    const size = this.file.size();
    const entries: RecordingLogEntry[] = [];
    let offset = 0;
    while (offset < size) {
      if (size - offset < HEADER_LENGTH) break; // a record torn by a crash while it was appended
      const read = this.file.read(this.scratch, 0, HEADER_LENGTH, offset);
      if (read < HEADER_LENGTH) break;
      const rawType = this.view.getInt32(ENTRY_TYPE_OFFSET, true);
      const type = (rawType & ~INVALID_FLAG) as EntryType;
      if (type !== EntryType.TERM && type !== EntryType.SNAPSHOT && type !== EntryType.STANDBY_SNAPSHOT) {
        throw new SkeinError(ErrorCode.STORAGE_FAILED, `recording log '${this.path}' cannot be used: the record at offset ${offset} has entry type ${rawType}`);
      }
      let length = HEADER_LENGTH;
      let archiveEndpoint: string | null = null;
      if (type === EntryType.STANDBY_SNAPSHOT) {
        if (size - offset < ENDPOINT_OFFSET + 4) break;
        this.file.read(this.scratch, ENDPOINT_OFFSET, 4, offset + ENDPOINT_OFFSET);
        const endpointLength = this.view.getInt32(ENDPOINT_OFFSET, true);
        if (endpointLength < 0 || ENDPOINT_OFFSET + 4 + endpointLength > RECORDING_LOG_MAX_ENTRY_LENGTH) {
          throw new SkeinError(ErrorCode.STORAGE_FAILED, `recording log '${this.path}' cannot be used: the record at offset ${offset} has an endpoint of ${endpointLength} bytes`);
        }
        if (size - offset < ENDPOINT_OFFSET + 4 + endpointLength) break;
        this.file.read(this.scratch, ENDPOINT_OFFSET + 4, endpointLength, offset + ENDPOINT_OFFSET + 4);
        archiveEndpoint = String.fromCharCode(...this.scratch.subarray(ENDPOINT_OFFSET + 4, ENDPOINT_OFFSET + 4 + endpointLength));
        length = ENDPOINT_OFFSET + 4 + endpointLength;
      }
      entries.push({
        recordingId: this.readLong(0, offset, 'recordingId'),
        leadershipTermId: this.readLong(8, offset, 'leadershipTermId'),
        termBaseLogPosition: this.readLong(16, offset, 'termBaseLogPosition'),
        logPosition: this.readLong(24, offset, 'logPosition'),
        timestamp: this.readLong(32, offset, 'timestamp'),
        serviceId: this.view.getInt32(40, true),
        type,
        isValid: (rawType & INVALID_FLAG) === 0,
        archiveEndpoint,
        fileOffset: offset,
        appendIndex: entries.length,
      });
      offset += align(length);
    }
    this.nextOffset = offset;
    this.nextAppendIndex = entries.length;
    this.sorted = entries.sort(compareEntries);
    const term = this.lastTerm();
    this.termRecordingId = term === undefined ? NULL_VALUE : term.recordingId;
  }

  private readLong(at: number, offset: number, field: string): number {
    const v = this.view.getBigInt64(at, true);
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new SkeinError(ErrorCode.STORAGE_FAILED, `recording log '${this.path}' cannot be used: ${field} ${v} at offset ${offset} is beyond 2^53`);
    return n;
  }

  private append(type: EntryType, recordingId: number, leadershipTermId: number, termBaseLogPosition: number, logPosition: number, timestamp: number, serviceId: number, archiveEndpoint: string | null): void {
    const entry: RecordingLogEntry = {
      recordingId, leadershipTermId, termBaseLogPosition, logPosition, timestamp, serviceId, type, isValid: true, archiveEndpoint, fileOffset: this.nextOffset, appendIndex: this.nextAppendIndex,
    };
    const length = this.encode(entry);
    this.scratch.fill(0, length, align(length));
    this.writeAt(entry.fileOffset, 0, align(length));
    this.nextOffset += align(length);
    this.nextAppendIndex++;
    // Keep the order: insert after every entry that sorts before or equal.
    let i = this.sorted.length;
    while (i > 0 && compareEntries(this.sorted[i - 1]!, entry) > 0) i--;
    this.sorted.splice(i, 0, entry);
  }

  private encode(e: RecordingLogEntry): number {
    const v = this.view;
    v.setBigInt64(0, BigInt(e.recordingId), true);
    v.setBigInt64(8, BigInt(e.leadershipTermId), true);
    v.setBigInt64(16, BigInt(e.termBaseLogPosition), true);
    v.setBigInt64(24, BigInt(e.logPosition), true);
    v.setBigInt64(32, BigInt(e.timestamp), true);
    v.setInt32(40, e.serviceId, true);
    v.setInt32(44, e.isValid ? e.type : e.type | INVALID_FLAG, true);
    return HEADER_LENGTH;
  }

  private writeAt(position: number, from: number, length: number): void {
    this.file.write(this.scratch, from, length, position);
    if (this.syncLevel > 0) this.file.sync(this.syncLevel === 2);
  }

  private checkOpen(): void {
    if (this.closed) throw new SkeinError(ErrorCode.CLOSED, `recording log '${this.path}' is closed`);
  }
}

function planned(e: RecordingLogEntry): PlannedSnapshot {
  return { recordingId: e.recordingId, leadershipTermId: e.leadershipTermId, termBaseLogPosition: e.termBaseLogPosition, logPosition: e.logPosition, timestamp: e.timestamp, serviceId: e.serviceId };
}

function align(length: number): number {
  return Math.ceil(length / RECORDING_LOG_ALIGNMENT) * RECORDING_LOG_ALIGNMENT;
}

function checkLong(name: string, value: number, min: number): void {
  if (!(Number.isSafeInteger(value) && value >= min)) throw new SkeinError(ErrorCode.ARG_INVALID, `${name}=${String(value)} is invalid; expected an integer >= ${min}`);
}
