/**
 * The archive's catalog, `archive.catalog` (ARCHIVE.md §10): a 32-byte header, then one entry per
 * recording id, each a 32-byte descriptor header (length, state, checksum) and the recording's
 * descriptor (an SBE RecordingDescriptor body without message header), padded to 64 bytes. Ids
 * are dense from 0. The whole file is kept in memory and every change is written through at its
 * place, then pushed to the device at the catalog's sync level.
 */
import type { FileHandle, Files } from '../env/files.js';
import { align } from '../util/bits.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import type { FileSyncLevel } from './recording-writer.js';
import {
  CATALOG_ALIGNMENT,
  CATALOG_HEADER_LENGTH,
  CATALOG_VERSION,
  DESCRIPTOR_HEADER_LENGTH,
  RecordingState,
  decodeCatalogHeader,
  decodeDescriptor,
  descriptorLength,
  encodeCatalogHeader,
  encodeDescriptor,
  readDescriptorHeader,
  writeDescriptorHeader,
  writeDescriptorField,
  type DescriptorField,
  type RecordingDescriptor,
} from './catalog-layout.js';

export { RecordingState, type RecordingDescriptor } from './catalog-layout.js';

export const CATALOG_FILE_NAME = 'archive.catalog';

/** What a new recording's entry holds (its id is assigned by the catalog). */
export type NewRecording = Omit<RecordingDescriptor, 'recordingId'>;

interface Entry {
  readonly offset: number;
  /** Descriptor bytes the entry has room for (entry length less its 32-byte header). */
  readonly capacity: number;
  state: RecordingState;
  descriptor: RecordingDescriptor;
}

export interface CatalogOptions {
  readonly files: Files;
  readonly archiveDir: string;
  /** 0: the OS writes when it likes; 1: data pushed to the device after each change; 2: data and metadata. */
  readonly syncLevel: FileSyncLevel;
}

export class Catalog {
  readonly path: string;
  private readonly file: FileHandle;
  private readonly syncLevel: FileSyncLevel;
  private bytes: Uint8Array;
  private length: number;
  private nextId: number;
  private readonly entries: Entry[] = [];
  private closed = false;

  private constructor(path: string, file: FileHandle, syncLevel: FileSyncLevel, bytes: Uint8Array, length: number) {
    this.path = path;
    this.file = file;
    this.syncLevel = syncLevel;
    this.bytes = bytes;
    this.length = length;
    this.nextId = 0;
  }

  /**
   * Opens the catalog in `archiveDir`, creating an empty one when there is none. An existing
   * catalog of another major version, or one whose entries do not add up, is refused with
   * ERR_SKEIN_STORAGE_FAILED naming the file and what is wrong.
   */
  static open(options: CatalogOptions): Catalog {
    const { files, archiveDir, syncLevel } = options;
    const path = `${archiveDir}/${CATALOG_FILE_NAME}`;
    const existed = files.exists(path);
    const file = files.open(path, existed ? 'write' : 'create');
    try {
      if (!existed) {
        const bytes = new Uint8Array(4096);
        encodeCatalogHeader(bytes, { version: CATALOG_VERSION, nextRecordingId: 0, alignment: CATALOG_ALIGNMENT });
        file.write(bytes, 0, CATALOG_HEADER_LENGTH, 0);
        if (syncLevel > 0) file.sync(syncLevel === 2);
        return new Catalog(path, file, syncLevel, bytes, CATALOG_HEADER_LENGTH);
      }
      const size = file.size();
      const bytes = new Uint8Array(Math.max(4096, size));
      if (file.read(bytes, 0, size, 0) !== size) throw corrupt(path, `could not read its ${size} bytes`);
      const catalog = new Catalog(path, file, syncLevel, bytes, size);
      catalog.load();
      return catalog;
    } catch (error) {
      file.close();
      throw error;
    }
  }

  /** The id the next recording gets. */
  get nextRecordingId(): number {
    return this.nextId;
  }

  /** Entries in the catalog, whatever their state. */
  get entryCount(): number {
    return this.entries.length;
  }

  /** Adds a VALID entry for a new recording; returns its id. */
  addNewRecording(recording: NewRecording): number {
    this.checkOpen();
    const recordingId = this.nextId;
    const descriptor: RecordingDescriptor = { ...recording, recordingId };
    const capacity = align(DESCRIPTOR_HEADER_LENGTH + descriptorLength(descriptor), CATALOG_ALIGNMENT) - DESCRIPTOR_HEADER_LENGTH;
    const offset = this.length;
    this.ensureCapacity(offset + DESCRIPTOR_HEADER_LENGTH + capacity);
    this.bytes.fill(0, offset, offset + DESCRIPTOR_HEADER_LENGTH + capacity);
    writeDescriptorHeader(this.bytes, offset, { length: capacity, state: RecordingState.VALID, checksum: 0 });
    encodeDescriptor(this.bytes, offset + DESCRIPTOR_HEADER_LENGTH, descriptor);
    this.length = offset + DESCRIPTOR_HEADER_LENGTH + capacity;
    this.entries.push({ offset, capacity, state: RecordingState.VALID, descriptor });
    this.nextId = recordingId + 1;
    encodeCatalogHeader(this.bytes, { version: CATALOG_VERSION, nextRecordingId: this.nextId, alignment: CATALOG_ALIGNMENT });
    // The entry first, then the header that counts it.
    this.writeThrough(offset, DESCRIPTOR_HEADER_LENGTH + capacity);
    this.writeThrough(0, CATALOG_HEADER_LENGTH);
    return recordingId;
  }

  /** The descriptor of a recording (a copy), or null when the id has no VALID entry. */
  descriptor(recordingId: number): RecordingDescriptor | null {
    const entry = this.entry(recordingId);
    return entry === null || entry.state !== RecordingState.VALID ? null : { ...entry.descriptor };
  }

  /** The state of a recording's entry, or null when there is no entry with that id. */
  state(recordingId: number): RecordingState | null {
    return this.entry(recordingId)?.state ?? null;
  }

  /** Calls `visit` for every VALID recording with id >= `fromRecordingId`, in id order, until it returns false. */
  forEach(fromRecordingId: number, visit: (descriptor: Readonly<RecordingDescriptor>) => boolean | void): void {
    for (let id = Math.max(0, fromRecordingId); id < this.entries.length; id++) {
      const entry = this.entries[id]!;
      if (entry.state !== RecordingState.VALID) continue;
      if (visit(entry.descriptor) === false) return;
    }
  }

  /** The descriptor body bytes of a VALID recording, as stored (with its padding), or null. */
  descriptorBytes(recordingId: number): Uint8Array | null {
    const entry = this.entry(recordingId);
    if (entry === null || entry.state !== RecordingState.VALID) return null;
    const start = entry.offset + DESCRIPTOR_HEADER_LENGTH;
    return this.bytes.subarray(start, start + entry.capacity);
  }

  /** The recording stopped: records where and when. */
  recordingStopped(recordingId: number, stopPosition: number, stopTimestamp: number): void {
    const entry = this.validEntry(recordingId, 'recordingStopped');
    entry.descriptor.stopPosition = stopPosition;
    entry.descriptor.stopTimestamp = stopTimestamp;
    this.writeFields(entry, ['stopTimestamp', 'stopPosition']);
  }

  /** A stopped recording is extended: it is active again, for a new control session and source session. */
  extendRecording(recordingId: number, controlSessionId: number, correlationId: number, sessionId: number): void {
    const entry = this.validEntry(recordingId, 'extendRecording');
    const d = entry.descriptor;
    d.controlSessionId = controlSessionId;
    d.correlationId = correlationId;
    d.sessionId = sessionId;
    d.stopPosition = -1;
    d.stopTimestamp = -1;
    this.writeFields(entry, ['controlSessionId', 'correlationId', 'sessionId', 'stopPosition', 'stopTimestamp']);
  }

  /** Moves a recording's start position (segments detached, purged or attached). */
  updateStartPosition(recordingId: number, startPosition: number): void {
    const entry = this.validEntry(recordingId, 'updateStartPosition');
    entry.descriptor.startPosition = startPosition;
    this.writeFields(entry, ['startPosition']);
  }

  /** Moves a recording's stop position (a truncation). */
  updateStopPosition(recordingId: number, stopPosition: number): void {
    const entry = this.validEntry(recordingId, 'updateStopPosition');
    entry.descriptor.stopPosition = stopPosition;
    this.writeFields(entry, ['stopPosition']);
  }

  /** Marks an entry INVALID or DELETED (it keeps its place and id). */
  changeState(recordingId: number, state: RecordingState): void {
    this.checkOpen();
    const entry = this.entry(recordingId);
    if (entry === null) throw unknownRecording(recordingId, 'changeState');
    entry.state = state;
    const header = readDescriptorHeader(this.bytes, entry.offset);
    writeDescriptorHeader(this.bytes, entry.offset, { ...header, state });
    this.writeThrough(entry.offset, DESCRIPTOR_HEADER_LENGTH);
  }

  /**
   * Replaces a recording's channels. The entry keeps its place, so the new descriptor must fit in
   * it: ERR_SKEIN_ARG_INVALID names the room there is when it does not.
   */
  updateChannel(recordingId: number, strippedChannel: string, originalChannel: string): void {
    const entry = this.validEntry(recordingId, 'updateChannel');
    const updated = { ...entry.descriptor, strippedChannel, originalChannel };
    const needed = descriptorLength(updated);
    if (needed > entry.capacity) {
      throw new SkeinError(ErrorCode.ARG_INVALID, `recording ${recordingId}: the new channel needs ${needed} bytes in its catalog entry, which has ${entry.capacity}`);
    }
    const start = entry.offset + DESCRIPTOR_HEADER_LENGTH;
    this.bytes.fill(0, start, start + entry.capacity);
    encodeDescriptor(this.bytes, start, updated);
    entry.descriptor = updated;
    this.writeThrough(start, entry.capacity);
  }

  /** Flushes at the sync level and closes the file; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.syncLevel > 0) this.file.sync(this.syncLevel === 2);
    } finally {
      this.file.close();
    }
  }

  private load(): void {
    const header = decodeCatalogHeader(this.bytes, this.length, this.path);
    if (header.version >>> 16 !== CATALOG_VERSION >>> 16) {
      throw corrupt(this.path, `its version ${versionText(header.version)} is not ${versionText(CATALOG_VERSION)} (major ${CATALOG_VERSION >>> 16} required)`);
    }
    if (header.alignment !== CATALOG_ALIGNMENT) throw corrupt(this.path, `its entry alignment ${header.alignment} is not ${CATALOG_ALIGNMENT}`);
    let offset = CATALOG_HEADER_LENGTH;
    while (offset + DESCRIPTOR_HEADER_LENGTH <= this.length) {
      const h = readDescriptorHeader(this.bytes, offset);
      if (h.length === 0) break;
      const end = offset + DESCRIPTOR_HEADER_LENGTH + h.length;
      if (h.length < 0 || end > this.length || (DESCRIPTOR_HEADER_LENGTH + h.length) % CATALOG_ALIGNMENT !== 0) {
        throw corrupt(this.path, `the entry at offset ${offset} has length ${h.length}, which does not fit the file of ${this.length} bytes`);
      }
      const descriptor = decodeDescriptor(this.bytes, offset + DESCRIPTOR_HEADER_LENGTH, h.length, this.path);
      if (descriptor.recordingId !== this.entries.length) {
        throw corrupt(this.path, `the entry at offset ${offset} holds recording ${descriptor.recordingId} where ${this.entries.length} belongs`);
      }
      this.entries.push({ offset, capacity: h.length, state: h.state, descriptor });
      offset = end;
    }
    this.length = offset;
    this.nextId = Math.max(header.nextRecordingId, this.entries.length);
  }

  private entry(recordingId: number): Entry | null {
    return Number.isInteger(recordingId) && recordingId >= 0 && recordingId < this.entries.length ? this.entries[recordingId]! : null;
  }

  private validEntry(recordingId: number, operation: string): Entry {
    this.checkOpen();
    const entry = this.entry(recordingId);
    if (entry === null || entry.state !== RecordingState.VALID) throw unknownRecording(recordingId, operation);
    return entry;
  }

  private writeFields(entry: Entry, fields: readonly DescriptorField[]): void {
    const start = entry.offset + DESCRIPTOR_HEADER_LENGTH;
    let low = Number.MAX_SAFE_INTEGER;
    let high = 0;
    for (const field of fields) {
      const [at, length] = writeDescriptorField(this.bytes, start, entry.descriptor, field);
      low = Math.min(low, at);
      high = Math.max(high, at + length);
    }
    this.writeThrough(low, high - low);
  }

  private writeThrough(offset: number, length: number): void {
    this.checkOpen();
    this.file.write(this.bytes, offset, length, offset);
    if (this.syncLevel > 0) this.file.sync(this.syncLevel === 2);
  }

  private ensureCapacity(needed: number): void {
    if (needed <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(needed, Math.floor(this.bytes.length * 1.5)));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  private checkOpen(): void {
    if (this.closed) throw new SkeinError(ErrorCode.CLOSED, `catalog '${this.path}' is closed`);
  }
}

function versionText(v: number): string {
  return `${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

function corrupt(path: string, what: string): SkeinError {
  return new SkeinError(ErrorCode.STORAGE_FAILED, `catalog '${path}' cannot be used: ${what}`);
}

function unknownRecording(recordingId: number, operation: string): SkeinError {
  return new SkeinError(ErrorCode.ARG_INVALID, `${operation}: unknown recording id ${recordingId}`);
}
