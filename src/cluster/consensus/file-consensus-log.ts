/**
 * A member's consensus log on files (docs/cluster.md, "The log on disk"), for a cluster member
 * that runs as a process: what survives a crash is what reached the files.
 *
 * - `consensus-log.dat`: the entries, each at its log position as a file offset: a 32-byte header
 *   (i32 data length, u32 FNV-1a checksum of the data, f64 leadership term id, f64 log position,
 *   8 bytes zero) and the data, aligned to 32 bytes, as the frames of a stream are.
 * - `consensus-state.dat`: the candidate term and the terms joined with their bases, rewritten
 *   whole (to a temporary file, synced, renamed) on every change, so a vote or a join is durable
 *   before the member acts on it.
 *
 * On open the entries are read back in order up to the first that is torn or not at its place
 * (the file is cut there), and the joined terms beyond the end are dropped. Memory keeps only
 * the last `retainedBytes` of the log as it is read at start and, after, behind what the member
 * has applied; reads of older entries (a follower catching up from far behind, a replay from a
 * snapshot) go to the file.
 * Snapshots do not shorten the file yet, so it grows with the cluster's history.
 *
 * `syncEachAppend` flushes every append before it returns, so an AppendPosition never reports
 * what a crash of the machine could lose; without it (Aeron's default, file sync level 0)
 * durability comes from replication to a quorum.
 */
import type { Files, FileHandle } from '../../env/files.js';
import { ErrorCode, SkeinError, messageOf } from '../../util/errors.js';
import { fnv1a } from './consensus-state-file.js';
import { CONTIGUOUS_LAYOUT, entryLength, LOG_ENTRY_HEADER_LENGTH, LogEntryRecord, placeEntry, type LogEntry, type LogLayout } from './consensus-log.js';
import { PersistedConsensusLog } from './persisted-consensus-log.js';

export const CONSENSUS_LOG_FILE = 'consensus-log.dat';
export { CONSENSUS_STATE_FILE } from './consensus-state-file.js';
const ZEROS = new Uint8Array(4096);

export interface FileConsensusLogOptions {
  readonly files: Files;
  /** The cluster directory of this member. */
  readonly dir: string;
  readonly syncEachAppend?: boolean;
  /** Where entries are placed (padding at term ends, fragments); every member's must be the same. @default CONTIGUOUS_LAYOUT */
  readonly layout?: LogLayout;
  /** Log bytes kept in memory behind the applied position. @default DEFAULT_RETAINED_LOG_BYTES */
  readonly retainedBytes?: number;
}

export class FileConsensusLog extends PersistedConsensusLog {
  private readonly files: Files;
  private readonly logPath: string;
  private readonly syncEachAppend: boolean;
  private readonly log: FileHandle;
  private readonly header = new Uint8Array(LOG_ENTRY_HEADER_LENGTH);
  private readonly headerView = new DataView(this.header.buffer);
  private closed = false;
  /** Entries dropped on open because they were torn or out of place. */
  readonly tornBytesDropped: number;

  constructor(options: FileConsensusLogOptions) {
    super(options.files, options.dir, options.layout ?? CONTIGUOUS_LAYOUT);
    this.files = options.files;
    this.logPath = `${options.dir}/${CONSENSUS_LOG_FILE}`;
    this.syncEachAppend = options.syncEachAppend ?? false;
    const state = this.stateFile.read();
    this.log = this.open(this.logPath, 'create-or-open');
    const size = this.log.size();
    const terms = [...state.terms].sort((a, b) => a.base - b.base);
    // Entries read from the file can leave memory again at once: the file serves them.
    this.inner.setBacking({
      limit: () => this.inner.appendPosition,
      read: (position, maxBytes) => this.readEntries(position, maxBytes),
      // Below memory, a whole entry following a position (there, or after padding at its term's end) stands for an entry ending there.
      isEntryEnd: (position) => this.readEntryAfter(position, this.inner.appendPosition) !== null,
    }, options.retainedBytes);
    let t = 0;
    for (;;) {
      const entry = this.readEntryAfter(this.inner.appendPosition, size);
      if (entry === null) break;
      t = this.joinTermsAt(terms, t);
      this.inner.append(entry.termId, entry.data);
      this.inner.releaseBefore(this.inner.appendPosition);
    }
    this.joinTermsAt(terms, t);
    const end = this.inner.appendPosition;
    this.tornBytesDropped = size - end;
    if (size > end) this.wrap('cut the torn end of', () => this.log.truncate(end));
    this.inner.candidateTermId = state.candidateTermId;
    // Terms recorded beyond what survived are gone with those entries.
    this.settleTerms(terms);
  }

  /** Entries from the file, from the first at or after `position` (an entry start or end), up to `maxBytes` (at least one). */
  private readEntries(position: number, maxBytes: number): LogEntry[] {
    this.checkUsable();
    const out: LogEntry[] = [];
    const limit = this.inner.appendPosition;
    let at = position;
    let bytes = 0;
    while (at < limit) {
      const read = this.readEntryAfter(at, limit);
      if (read === null) throw new SkeinError(ErrorCode.STORAGE_FAILED, `${this.logPath}: no whole entry after ${at}, below the log's end ${limit}`);
      const start = placeEntry(at, read.data.length, this.inner.layout);
      const length = entryLength(read.data.length, this.inner.layout);
      if (out.length > 0 && bytes + length > maxBytes) break;
      out.push(new LogEntryRecord(read.termId, start, length, read.data));
      bytes += length;
      at = start + length;
      if (bytes >= maxBytes) break;
    }
    return out;
  }

  /** Every append is written through before it returns (flushed to the device with syncEachAppend). */
  get durablePosition(): number {
    return this.inner.appendPosition;
  }

  protected get stateRecordingId(): number {
    return -1;
  }

  append(termId: number, data: Uint8Array): LogEntry {
    this.checkUsable();
    const position = placeEntry(this.inner.appendPosition, data.length, this.inner.layout);
    const length = entryLength(data.length, this.inner.layout);
    const newTerm = this.inner.termBase(termId) === undefined;
    const h = this.headerView;
    h.setInt32(0, data.length, true);
    h.setUint32(4, fnv1a(data), true);
    h.setFloat64(8, termId, true);
    h.setFloat64(16, position, true);
    h.setFloat64(24, 0, true);
    this.wrap('append to', () => {
      this.log.write(this.header, 0, LOG_ENTRY_HEADER_LENGTH, position);
      this.log.write(data, 0, data.length, position + LOG_ENTRY_HEADER_LENGTH);
      // The rest of the entry's frames (headers of further fragments, alignment) as zeros: file offsets stay log positions.
      for (let at = position + LOG_ENTRY_HEADER_LENGTH + data.length; at < position + length; at += ZEROS.length) this.log.write(ZEROS, 0, Math.min(ZEROS.length, position + length - at), at);
      if (this.syncEachAppend) this.log.sync(false);
    });
    const entry = this.inner.append(termId, data);
    if (newTerm) this.writeState();
    return entry;
  }

  truncate(position: number): void {
    this.checkUsable();
    if (position >= this.inner.appendPosition) return;
    this.inner.truncate(position);
    this.wrap('truncate', () => {
      this.log.truncate(position);
      this.log.sync(true);
    });
    this.writeState();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.log.close();
  }

  /**
   * The whole entry that follows a log ending at `end` in a file of `size` bytes: at `end`, or
   * after padding at the next term; null when there is none whole and in its place.
   */
  private readEntryAfter(end: number, size: number): { termId: number; data: Uint8Array } | null {
    const layout = this.inner.layout;
    const candidates = Number.isFinite(layout.termLength) && end % layout.termLength !== 0 ? [end, end - (end % layout.termLength) + layout.termLength] : [end];
    for (const at of candidates) {
      if (at + LOG_ENTRY_HEADER_LENGTH > size) continue;
      this.log.read(this.header, 0, LOG_ENTRY_HEADER_LENGTH, at);
      const length = this.headerView.getInt32(0, true);
      const checksum = this.headerView.getUint32(4, true);
      const termId = this.headerView.getFloat64(8, true);
      if (length < 0 || this.headerView.getFloat64(16, true) !== at || !Number.isInteger(termId)) continue;
      if (entryLength(length, layout) > layout.termLength || placeEntry(end, length, layout) !== at || at + entryLength(length, layout) > size) continue;
      const data = new Uint8Array(length);
      this.log.read(data, 0, length, at + LOG_ENTRY_HEADER_LENGTH);
      if (fnv1a(data) === checksum) return { termId, data };
    }
    return null;
  }

  protected checkUsable(): void {
    if (this.closed) throw new SkeinError(ErrorCode.STORAGE_FAILED, `consensus log ${this.logPath} is closed`);
  }

  private open(path: string, mode: 'create-or-open' | 'read' | 'create'): FileHandle {
    try {
      return this.files.open(path, mode);
    } catch (e) {
      throw new SkeinError(ErrorCode.STORAGE_FAILED, `cannot open ${path}: ${messageOf(e)}`, { cause: e });
    }
  }

  private wrap(what: string, action: () => void): void {
    try {
      action();
    } catch (e) {
      throw new SkeinError(ErrorCode.STORAGE_FAILED, `cannot ${what} ${this.logPath} at ${this.inner.appendPosition}: ${messageOf(e)}`, { cause: e });
    }
  }

}
