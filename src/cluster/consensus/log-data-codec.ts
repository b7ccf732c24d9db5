/**
 * LogData on the wire: how a Skein leader sends its log to a follower (docs/cluster.md, "Members
 * as processes"). Aeron streams the log as the leader's log publication itself and replays its
 * log recording to catch a follower up; Skein's members send entries in this message on the log
 * stream instead, until the log is an archive recording. Little-endian:
 *
 *   u16 magic 0x4c44 ("LD"), u16 version 1, i32 leader member id,
 *   f64 leadership term id, f64 term base, f64 position of the first entry, f64 commit position,
 *   i32 entry count, i32 zero, then per entry: f64 its term id, f64 its position, i32 data
 *   length, data.
 *
 * The entries follow each other in the leader's log from the message's position (an entry end
 * there); an entry's position is explicit because padding at a term's end may come before it.
 */
import { ErrorCode, SkeinError } from '../../util/errors.js';
import { CONTIGUOUS_LAYOUT, entryLength, LogEntryRecord, type LogEntry, type LogLayout } from './consensus-log.js';
import type { LogData } from './consensus-messages.js';

const MAGIC = 0x4c44;
const VERSION = 1;
const HEADER = 48;
const ENTRY_HEADER = 20;

/** Bytes `message` takes encoded. */
export function logDataLength(message: LogData): number {
  let n = HEADER;
  for (const e of message.entries) n += ENTRY_HEADER + e.data.length;
  return n;
}

/** Bytes the encoded header and an entry of `dataLength` take, for sizing batches. */
export const LOG_DATA_OVERHEAD = HEADER;
export const LOG_DATA_ENTRY_OVERHEAD = ENTRY_HEADER;

export function encodeLogData(message: LogData, buffer: Uint8Array, offset: number): number {
  const length = logDataLength(message);
  if (offset < 0 || offset + length > buffer.length) {
    throw new SkeinError(ErrorCode.ARG_INVALID, `LogData of ${message.entries.length} entries (${length} bytes) does not fit at ${offset} of a ${buffer.length}-byte buffer`);
  }
  const v = new DataView(buffer.buffer, buffer.byteOffset, buffer.length);
  v.setUint16(offset, MAGIC, true);
  v.setUint16(offset + 2, VERSION, true);
  v.setInt32(offset + 4, message.from, true);
  v.setFloat64(offset + 8, message.leadershipTermId, true);
  v.setFloat64(offset + 16, message.termBase, true);
  v.setFloat64(offset + 24, message.position, true);
  v.setFloat64(offset + 32, message.commitPosition, true);
  v.setInt32(offset + 40, message.entries.length, true);
  v.setInt32(offset + 44, 0, true);
  let at = offset + HEADER;
  for (const e of message.entries) {
    v.setFloat64(at, e.termId, true);
    v.setFloat64(at + 8, e.position, true);
    v.setInt32(at + 16, e.data.length, true);
    buffer.set(e.data, at + ENTRY_HEADER);
    at += ENTRY_HEADER + e.data.length;
  }
  return length;
}

/**
 * Reads a LogData whose entries are framed as `layout` frames them. With `copy` (the default) the
 * entries' data are views into one copy of the message's entries: they outlive the receive buffer,
 * at one allocation per message, not per entry. Without it they are views into `buffer`, valid
 * until it is written again: for a reader that copies what it keeps (a member's log copies each
 * entry it appends).
 */
export function decodeLogData(buffer: Uint8Array, offset: number, length: number, layout: LogLayout = CONTIGUOUS_LAYOUT, copy = true): LogData {
  const bad = (why: string): never => {
    throw new SkeinError(ErrorCode.PROTOCOL_INVALID, `LogData (${length} bytes): ${why}`);
  };
  if (length < HEADER) bad(`shorter than its ${HEADER}-byte header`);
  const v = new DataView(buffer.buffer, buffer.byteOffset + offset, length);
  if (v.getUint16(0, true) !== MAGIC) bad(`magic 0x${v.getUint16(0, true).toString(16)}, expected 0x${MAGIC.toString(16)}`);
  if (v.getUint16(2, true) !== VERSION) bad(`version ${v.getUint16(2, true)}, expected ${VERSION}`);
  const count = v.getInt32(40, true);
  if (count < 0) bad(`entry count ${count}`);
  const entries: LogEntry[] = [];
  const body = copy ? buffer.slice(offset + HEADER, offset + length) : buffer.subarray(offset + HEADER, offset + length);
  let at = HEADER;
  for (let i = 0; i < count; i++) {
    if (at + ENTRY_HEADER > length) bad(`entry ${i} of ${count} is cut short`);
    const termId = v.getFloat64(at, true);
    const position = v.getFloat64(at + 8, true);
    const dataLength = v.getInt32(at + 16, true);
    if (dataLength < 0 || at + ENTRY_HEADER + dataLength > length) bad(`entry ${i} of ${count} says ${dataLength} bytes, past the end`);
    const data = body.subarray(at - HEADER + ENTRY_HEADER, at - HEADER + ENTRY_HEADER + dataLength);
    entries.push(new LogEntryRecord(termId, position, entryLength(dataLength, layout), data));
    at += ENTRY_HEADER + dataLength;
  }
  if (at !== length) bad(`${length - at} bytes after the last entry`);
  return {
    type: 'logData', from: v.getInt32(4, true), leadershipTermId: v.getFloat64(8, true), termBase: v.getFloat64(16, true), position: v.getFloat64(24, true), entries, commitPosition: v.getFloat64(32, true),
  };
}
