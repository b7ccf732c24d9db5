/**
 * The archive's mark file, `archive-mark.dat` in the archive directory, in Aeron's layout
 * (ARCHIVE.md §13), so that Aeron's tools and operators can tell an archive is there and what it
 * is: an SBE MarkFileHeader (schema 100, template 200) at 0, whose `version` is written last
 * (0 while starting, 3.1.0 when ready); the activity timestamp, moved on every second and -1
 * after a clean close; and from `headerLength` (8 KiB) the archive's distinct error log in
 * Agrona's record layout (length i32, observation count i32, last and first observation i64
 * epoch ms, then the error text as UTF-8; records 8-byte aligned).
 *
 * An archive refuses to start on a directory whose mark file was active in the last 10 s and whose
 * process is alive: another archive is using it. (Aeron waits out the 10 s whatever; a restart after
 * a crash here does not wait when the process that wrote the file is gone.)
 */
import type { Files, FileHandle } from '../env/files.js';
import type { EpochClock } from '../env/clock.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import { MarkFileHeaderDecoder, MarkFileHeaderEncoder, MessageHeaderDecoder } from './codecs/archive-mark-codecs.js';

export const MARK_FILE_NAME = 'archive-mark.dat';
/** Aeron's archive mark file version 3.1.0. */
export const MARK_FILE_VERSION = 0x030100;
export const MARK_FILE_HEADER_LENGTH = 8192;
export const MARK_FILE_ERROR_BUFFER_LENGTH = 1024 * 1024;
/** Activity older than this means the archive that wrote it is gone. */
export const MARK_FILE_LIVENESS_MS = 10_000;
const ACTIVITY_UPDATE_MS = 1000;
/** File offsets (8-byte SBE message header, then the body). */
const VERSION_OFFSET = 8;
const ACTIVITY_OFFSET = 16;

const RECORD_HEADER = 24;
const RECORD_ALIGNMENT = 8;

export interface MarkFileFields {
  readonly startTimestamp: number;
  readonly pid: number;
  readonly controlStreamId: number;
  readonly localControlStreamId: number;
  readonly eventsStreamId: number;
  readonly archiveId: number;
  readonly controlChannel: string;
  readonly localControlChannel: string;
  readonly eventsChannel: string;
  readonly aeronDirectory: string;
}

export interface MarkFileSummary extends MarkFileFields {
  readonly version: number;
  readonly activityTimestamp: number;
  readonly headerLength: number;
  readonly errorBufferLength: number;
}

export interface MarkFileError {
  readonly observationCount: number;
  readonly firstObservationMs: number;
  readonly lastObservationMs: number;
  readonly text: string;
}

/** Whether a process of this host is alive (signal 0 reaches it, or it is someone else's). */
export function processIsAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

const align = (value: number, alignment: number): number => (value + alignment - 1) & ~(alignment - 1);

/** Reads a mark file's header; null when there is none or it is too short to be one. */
export function readMarkFile(files: Files, archiveDir: string): MarkFileSummary | null {
  const path = `${archiveDir}/${MARK_FILE_NAME}`;
  if (!files.exists(path)) return null;
  const file = files.open(path, 'read');
  try {
    const bytes = new Uint8Array(Math.min(file.size(), MARK_FILE_HEADER_LENGTH));
    const length = file.read(bytes, 0, bytes.length, 0);
    if (length < 8 + MarkFileHeaderEncoder.BLOCK_LENGTH) return null;
    const header = new MessageHeaderDecoder().wrap(bytes, 0, length);
    if (header.templateId() !== MarkFileHeaderDecoder.TEMPLATE_ID || header.schemaId() !== MarkFileHeaderDecoder.SCHEMA_ID) return null;
    const d = new MarkFileHeaderDecoder().wrapAndCheckHeader(bytes, 0, length);
    return {
      version: d.version(), activityTimestamp: d.activityTimestampAsNumber(), startTimestamp: d.startTimestampAsNumber(), pid: d.pidAsNumber(),
      controlStreamId: d.controlStreamId(), localControlStreamId: d.localControlStreamId(), eventsStreamId: d.eventsStreamId(),
      headerLength: d.headerLength(), errorBufferLength: d.errorBufferLength(), archiveId: d.archiveIdAsNumber(),
      controlChannel: d.controlChannel(), localControlChannel: d.localControlChannel(), eventsChannel: d.eventsChannel(), aeronDirectory: d.aeronDirectory(),
    };
  } finally {
    file.close();
  }
}

/** The distinct errors in a mark file's error log, in the order they were first seen. */
export function readMarkFileErrors(files: Files, archiveDir: string): MarkFileError[] {
  const summary = readMarkFile(files, archiveDir);
  if (summary === null || summary.errorBufferLength <= 0) return [];
  const file = files.open(`${archiveDir}/${MARK_FILE_NAME}`, 'read');
  try {
    const bytes = new Uint8Array(summary.errorBufferLength);
    const length = file.read(bytes, 0, bytes.length, summary.headerLength);
    return decodeErrors(bytes, length);
  } finally {
    file.close();
  }
}

function decodeErrors(bytes: Uint8Array, length: number): MarkFileError[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, length);
  const out: MarkFileError[] = [];
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  for (let offset = 0; offset + RECORD_HEADER <= length; ) {
    const recordLength = view.getInt32(offset, true);
    if (recordLength <= RECORD_HEADER || offset + recordLength > length) break;
    out.push({
      observationCount: view.getInt32(offset + 4, true),
      lastObservationMs: Number(view.getBigInt64(offset + 8, true)),
      firstObservationMs: Number(view.getBigInt64(offset + 16, true)),
      text: decoder.decode(bytes.subarray(offset + RECORD_HEADER, offset + recordLength)),
    });
    offset += align(recordLength, RECORD_ALIGNMENT);
  }
  return out;
}

/** The mark file of a running archive. */
export class ArchiveMarkFile {
  private readonly file: FileHandle;
  private readonly clock: EpochClock;
  private readonly errorBuffer = new Uint8Array(MARK_FILE_ERROR_BUFFER_LENGTH);
  private readonly errorView = new DataView(this.errorBuffer.buffer);
  /** Error text → offset of its record in the error buffer. */
  private readonly errorOffsets = new Map<string, number>();
  private readonly scratch = new Uint8Array(8);
  private nextErrorOffset = 0;
  private nextActivityMs = 0;
  private droppedErrors = 0;
  private closed = false;

  private constructor(file: FileHandle, clock: EpochClock) {
    this.file = file;
    this.clock = clock;
  }

  /**
   * Creates (or takes over) the mark file of `archiveDir`: refuses, naming the pid and age, when
   * another archive was active in it within the last 10 s and its process is alive; otherwise
   * writes the header and marks it ready.
   */
  static open(files: Files, archiveDir: string, clock: EpochClock, fields: MarkFileFields, isAlive: (pid: number) => boolean = processIsAlive): ArchiveMarkFile {
    const path = `${archiveDir}/${MARK_FILE_NAME}`;
    const nowMs = clock.epochMs();
    const previous = readMarkFile(files, archiveDir);
    const fresh = previous !== null && previous.activityTimestamp !== -1 && previous.version !== 0 && nowMs - previous.activityTimestamp < MARK_FILE_LIVENESS_MS;
    if (fresh && isAlive(previous.pid)) {
      throw new SkeinError(
        ErrorCode.CONFIG_INVALID,
        `archive directory ${archiveDir} is in use: ${MARK_FILE_NAME} of archive ${previous.archiveId} (pid ${previous.pid}) was active ${nowMs - previous.activityTimestamp} ms ago, ` +
          `within ${MARK_FILE_LIVENESS_MS} ms; stop that archive or wait`,
      );
    }
    const file = files.open(path, files.exists(path) ? 'write' : 'create');
    try {
      const length = align(MARK_FILE_HEADER_LENGTH + MARK_FILE_ERROR_BUFFER_LENGTH, 4096);
      file.truncate(0);
      // Written out in full, not sparse: the error log must still take a record when the disk is full.
      const zeros = new Uint8Array(64 * 1024);
      for (let position = 0; position < length; position += zeros.length) file.write(zeros, 0, Math.min(zeros.length, length - position), position);
      const header = new Uint8Array(MARK_FILE_HEADER_LENGTH);
      new MarkFileHeaderEncoder()
        .wrapAndApplyHeader(header, 0)
        .version(0)
        .activityTimestamp(nowMs)
        .startTimestamp(fields.startTimestamp)
        .pid(fields.pid)
        .controlStreamId(fields.controlStreamId)
        .localControlStreamId(fields.localControlStreamId)
        .eventsStreamId(fields.eventsStreamId)
        .headerLength(MARK_FILE_HEADER_LENGTH)
        .errorBufferLength(MARK_FILE_ERROR_BUFFER_LENGTH)
        .archiveId(fields.archiveId)
        .controlChannel(fields.controlChannel)
        .localControlChannel(fields.localControlChannel)
        .eventsChannel(fields.eventsChannel)
        .aeronDirectory(fields.aeronDirectory);
      file.write(header, 0, header.length, 0);
      // Ready: the version goes in last.
      const version = new Uint8Array(4);
      new DataView(version.buffer).setInt32(0, MARK_FILE_VERSION, true);
      file.write(version, 0, 4, VERSION_OFFSET);
      const markFile = new ArchiveMarkFile(file, clock);
      markFile.nextActivityMs = nowMs + ACTIVITY_UPDATE_MS;
      return markFile;
    } catch (error) {
      file.close();
      throw error;
    }
  }

  /** Moves the activity timestamp on once a second; returns 1 when it wrote. */
  doWork(): number {
    if (this.closed) return 0;
    const nowMs = this.clock.epochMs();
    if (nowMs < this.nextActivityMs) return 0;
    this.nextActivityMs = nowMs + ACTIVITY_UPDATE_MS;
    try {
      this.writeActivity(nowMs);
    } catch {
      // Tried again in a second; the archive goes on.
      return 0;
    }
    return 1;
  }

  /** Records an error in the distinct error log: a new text gets a record, a known one a count. False when the log is full. */
  recordError(error: unknown): boolean {
    if (this.closed) return false;
    try {
      return this.writeError(error);
    } catch {
      // The mark file is where errors go, not a source of more: a failed write is dropped.
      this.droppedErrors++;
      return false;
    }
  }

  /** Errors that could not be written to the log (its file failed). */
  get droppedErrorCount(): number {
    return this.droppedErrors;
  }

  private writeError(error: unknown): boolean {
    const text = error instanceof Error ? `${error.message}\n${(error.stack ?? '').split('\n').slice(1).join('\n')}`.trimEnd() : String(error);
    const nowMs = this.clock.epochMs();
    const known = this.errorOffsets.get(text);
    const view = this.errorView;
    if (known !== undefined) {
      view.setInt32(known + 4, view.getInt32(known + 4, true) + 1, true);
      view.setBigInt64(known + 8, BigInt(nowMs), true);
      this.file.write(this.errorBuffer, known + 4, 12, MARK_FILE_HEADER_LENGTH + known + 4);
      return true;
    }
    const encoded = new TextEncoder().encode(text);
    const length = RECORD_HEADER + encoded.length;
    const offset = this.nextErrorOffset;
    if (offset + length > this.errorBuffer.length) return false;
    this.errorBuffer.set(encoded, offset + RECORD_HEADER);
    view.setBigInt64(offset + 16, BigInt(nowMs), true);
    view.setInt32(offset + 4, 1, true);
    view.setBigInt64(offset + 8, BigInt(nowMs), true);
    view.setInt32(offset, length, true);
    // The length last: a reader sees a whole record or none.
    this.file.write(this.errorBuffer, offset + 4, length - 4, MARK_FILE_HEADER_LENGTH + offset + 4);
    this.file.write(this.errorBuffer, offset, 4, MARK_FILE_HEADER_LENGTH + offset);
    this.errorOffsets.set(text, offset);
    this.nextErrorOffset = offset + align(length, RECORD_ALIGNMENT);
    return true;
  }

  /** A clean end: activity -1, so the next archive starts at once; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.writeActivity(-1);
    } finally {
      this.file.close();
    }
  }

  private writeActivity(value: number): void {
    new DataView(this.scratch.buffer).setBigInt64(0, BigInt(value), true);
    this.file.write(this.scratch, 0, 8, ACTIVITY_OFFSET);
  }
}
