/**
 * Byte layout of the catalog's structures (ARCHIVE.md §10, §17): CatalogHeader, RecordingDescriptorHeader
 * and RecordingDescriptor bodies of the archive schema (id 101), little-endian, without message headers.
 */
import { ErrorCode, SkeinError } from '../util/errors.js';

/** Catalog semantic version 3.1.0; major 3 required. */
export const CATALOG_VERSION = 0x030100;
export const CATALOG_HEADER_LENGTH = 32;
export const CATALOG_ALIGNMENT = 64;
export const DESCRIPTOR_HEADER_LENGTH = 32;
/** Fixed block of a RecordingDescriptor. */
export const DESCRIPTOR_BLOCK_LENGTH = 80;

export const RecordingState = { INVALID: 0, VALID: 1, DELETED: 2 } as const;
export type RecordingState = (typeof RecordingState)[keyof typeof RecordingState];

export interface RecordingDescriptor {
  controlSessionId: number;
  correlationId: number;
  recordingId: number;
  startTimestamp: number;
  stopTimestamp: number;
  startPosition: number;
  stopPosition: number;
  initialTermId: number;
  segmentFileLength: number;
  termBufferLength: number;
  mtuLength: number;
  sessionId: number;
  streamId: number;
  strippedChannel: string;
  originalChannel: string;
  sourceIdentity: string;
}

export type DescriptorField = Exclude<keyof RecordingDescriptor, 'strippedChannel' | 'originalChannel' | 'sourceIdentity'>;

const INT64_FIELDS: Readonly<Partial<Record<DescriptorField, number>>> = {
  controlSessionId: 0, correlationId: 8, recordingId: 16, startTimestamp: 24, stopTimestamp: 32, startPosition: 40, stopPosition: 48,
};
const INT32_FIELDS: Readonly<Partial<Record<DescriptorField, number>>> = {
  initialTermId: 56, segmentFileLength: 60, termBufferLength: 64, mtuLength: 68, sessionId: 72, streamId: 76,
};

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function asciiLength(text: string, field: string): number {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) throw new SkeinError(ErrorCode.ARG_INVALID, `${field} '${text}' has a character that is not ASCII at index ${i}`);
  }
  return text.length;
}

export function descriptorLength(d: RecordingDescriptor): number {
  return DESCRIPTOR_BLOCK_LENGTH + 12 + asciiLength(d.strippedChannel, 'strippedChannel') + asciiLength(d.originalChannel, 'originalChannel') + asciiLength(d.sourceIdentity, 'sourceIdentity');
}

function putInt64(view: DataView, at: number, value: number): void {
  view.setBigInt64(at, BigInt(value), true);
}

function getInt64(view: DataView, at: number, path: string, field: string): number {
  const v = view.getBigInt64(at, true);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new SkeinError(ErrorCode.STORAGE_FAILED, `catalog '${path}' cannot be used: ${field} ${v} is beyond 2^53`);
  return n;
}

export function encodeCatalogHeader(bytes: Uint8Array, h: { version: number; nextRecordingId: number; alignment: number }): void {
  const view = viewOf(bytes);
  view.setInt32(0, h.version, true);
  view.setInt32(4, CATALOG_HEADER_LENGTH, true);
  putInt64(view, 8, h.nextRecordingId);
  view.setInt32(16, h.alignment, true);
}

export function decodeCatalogHeader(bytes: Uint8Array, length: number, path: string): { version: number; nextRecordingId: number; alignment: number } {
  if (length < CATALOG_HEADER_LENGTH) throw new SkeinError(ErrorCode.STORAGE_FAILED, `catalog '${path}' cannot be used: ${length} bytes is shorter than its header`);
  const view = viewOf(bytes);
  const headerLength = view.getInt32(4, true);
  if (headerLength !== CATALOG_HEADER_LENGTH) throw new SkeinError(ErrorCode.STORAGE_FAILED, `catalog '${path}' cannot be used: header length ${headerLength} is not ${CATALOG_HEADER_LENGTH}`);
  return { version: view.getInt32(0, true), nextRecordingId: getInt64(view, 8, path, 'nextRecordingId'), alignment: view.getInt32(16, true) };
}

export function readDescriptorHeader(bytes: Uint8Array, offset: number): { length: number; state: RecordingState; checksum: number } {
  const view = viewOf(bytes);
  const state = view.getInt32(offset + 4, true);
  return { length: view.getInt32(offset, true), state: (state === 0 || state === 1 || state === 2 ? state : RecordingState.INVALID) as RecordingState, checksum: view.getInt32(offset + 8, true) };
}

export function writeDescriptorHeader(bytes: Uint8Array, offset: number, h: { length: number; state: RecordingState; checksum: number }): void {
  const view = viewOf(bytes);
  view.setInt32(offset, h.length, true);
  view.setInt32(offset + 4, h.state, true);
  view.setInt32(offset + 8, h.checksum, true);
}

export function encodeDescriptor(bytes: Uint8Array, offset: number, d: RecordingDescriptor): number {
  const view = viewOf(bytes);
  for (const [field, at] of Object.entries(INT64_FIELDS)) putInt64(view, offset + at!, d[field as DescriptorField]);
  for (const [field, at] of Object.entries(INT32_FIELDS)) view.setInt32(offset + at!, d[field as DescriptorField], true);
  let limit = offset + DESCRIPTOR_BLOCK_LENGTH;
  for (const [name, text] of [['strippedChannel', d.strippedChannel], ['originalChannel', d.originalChannel], ['sourceIdentity', d.sourceIdentity]] as const) {
    const length = asciiLength(text, name);
    view.setUint32(limit, length, true);
    for (let i = 0; i < length; i++) bytes[limit + 4 + i] = text.charCodeAt(i);
    limit += 4 + length;
  }
  return limit - offset;
}

export function decodeDescriptor(bytes: Uint8Array, offset: number, capacity: number, path: string): RecordingDescriptor {
  const view = viewOf(bytes);
  const out: Record<string, number | string> = {};
  for (const [field, at] of Object.entries(INT64_FIELDS)) out[field] = getInt64(view, offset + at!, path, field);
  for (const [field, at] of Object.entries(INT32_FIELDS)) out[field] = view.getInt32(offset + at!, true);
  let limit = offset + DESCRIPTOR_BLOCK_LENGTH;
  const end = offset + capacity;
  for (const name of ['strippedChannel', 'originalChannel', 'sourceIdentity']) {
    if (limit + 4 > end) throw new SkeinError(ErrorCode.STORAGE_FAILED, `catalog '${path}' cannot be used: the descriptor at offset ${offset} ends before ${name}`);
    const length = view.getUint32(limit, true);
    if (limit + 4 + length > end) throw new SkeinError(ErrorCode.STORAGE_FAILED, `catalog '${path}' cannot be used: ${name} of ${length} bytes runs past the descriptor at offset ${offset}`);
    let text = '';
    for (let i = 0; i < length; i++) text += String.fromCharCode(bytes[limit + 4 + i]!);
    out[name] = text;
    limit += 4 + length;
  }
  return out as unknown as RecordingDescriptor;
}

/** Writes one fixed field of the descriptor starting at `start`; returns [offset, length] of the bytes written. */
export function writeDescriptorField(bytes: Uint8Array, start: number, d: RecordingDescriptor, field: DescriptorField): [number, number] {
  const view = viewOf(bytes);
  const at64 = INT64_FIELDS[field];
  if (at64 !== undefined) {
    putInt64(view, start + at64, d[field]);
    return [start + at64, 8];
  }
  const at32 = INT32_FIELDS[field]!;
  view.setInt32(start + at32, d[field], true);
  return [start + at32, 4];
}
