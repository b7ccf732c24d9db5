/**
 * What a log entry holds, for the service container (docs/cluster.md, "Services"). Little-endian:
 *
 * - SESSION_MESSAGE (1): u8 kind, f64 cluster session id, f64 sequence, f64 timestamp, payload.
 * - TIMER (2): u8 kind, f64 correlation id, f64 timestamp.
 * - CLUSTER_ACTION (3): u8 kind, u8 action, f64 timestamp (Aeron's ClusterActionRequest): with
 *   1 SNAPSHOT every member takes a snapshot at the position after this entry; with 2 SUSPEND the
 *   cluster stops taking client messages until 3 RESUME.
 * - SESSION_OPEN (4): u8 kind, f64 cluster session id, f64 timestamp; for a session a client
 *   opened over the network, then i32 its egress stream id, u16 length and the UTF-8 of its
 *   egress channel (as Aeron's SessionOpenEvent carries them, so that any later leader can
 *   answer the client).
 * - SESSION_CLOSE (5): u8 kind, f64 cluster session id, u8 reason (Aeron's CloseReason:
 *   0 CLIENT_ACTION, 1 SERVICE_ACTION, 2 TIMEOUT), f64 timestamp.
 * - the consensus core's term start (0xfe): u8 kind, f64 leadership term id.
 *
 * The timestamp is the leader's cluster time when it appended the entry: services read time from
 * the log only. Integers travel as float64, exact up to 2^53.
 */
import { TERM_START_MARKER } from '../consensus/consensus-member.js';

export const EntryKind = { SESSION_MESSAGE: 1, TIMER: 2, CLUSTER_ACTION: 3, SESSION_OPEN: 4, SESSION_CLOSE: 5, TERM_START: TERM_START_MARKER } as const;
export const CloseReason = { CLIENT_ACTION: 0, SERVICE_ACTION: 1, TIMEOUT: 2 } as const;
export type CloseReason = (typeof CloseReason)[keyof typeof CloseReason];
export const ClusterAction = { SNAPSHOT: 1, SUSPEND: 2, RESUME: 3 } as const;

const SESSION_HEADER = 25;
/** Bytes a session message entry adds to its command. */
export const SESSION_MESSAGE_OVERHEAD = SESSION_HEADER;
const TIMER_LENGTH = 17;
const ACTION_LENGTH = 10;
const OPEN_LENGTH = 17;
const CLOSE_LENGTH = 18;

export type DecodedEntry =
  | { readonly kind: 'session'; readonly sessionId: number; readonly sequence: number; readonly timestamp: number; readonly payload: Uint8Array }
  | { readonly kind: 'timer'; readonly correlationId: number; readonly timestamp: number }
  | { readonly kind: 'action'; readonly action: number; readonly timestamp: number }
  | { readonly kind: 'open'; readonly sessionId: number; readonly timestamp: number; readonly response?: SessionResponse }
  | { readonly kind: 'close'; readonly sessionId: number; readonly reason: CloseReason; readonly timestamp: number }
  | { readonly kind: 'termStart'; readonly leadershipTermId: number }
  | { readonly kind: 'unknown'; readonly reason: string };

/**
 * Session messages, the entry a leader makes per command, are cut from shared slabs: a view into
 * a slab costs no memory allocation of its own (a typed array over its own small buffer does),
 * and a slab is freed once every entry cut from it is.
 */
const SLAB_LENGTH = 256 * 1024;
let slab = new ArrayBuffer(SLAB_LENGTH);
let slabView = new DataView(slab);
let slabBytes = new Uint8Array(slab);
let slabUsed = 0;

export function encodeSessionMessage(sessionId: number, sequence: number, timestamp: number, payload: Uint8Array): Uint8Array {
  const length = SESSION_HEADER + payload.length;
  if (length > SLAB_LENGTH / 8) {
    // A large command gets a buffer of its own (it would waste much of a slab).
    const own = new Uint8Array(length);
    writeSessionMessage(new DataView(own.buffer), own, 0, sessionId, sequence, timestamp, payload);
    return own;
  }
  if (slabUsed + length > SLAB_LENGTH) {
    slab = new ArrayBuffer(SLAB_LENGTH);
    slabView = new DataView(slab);
    slabBytes = new Uint8Array(slab);
    slabUsed = 0;
  }
  const at = slabUsed;
  slabUsed += length;
  writeSessionMessage(slabView, slabBytes, at, sessionId, sequence, timestamp, payload);
  return new Uint8Array(slab, at, length);
}

function writeSessionMessage(v: DataView, bytes: Uint8Array, at: number, sessionId: number, sequence: number, timestamp: number, payload: Uint8Array): void {
  v.setUint8(at, EntryKind.SESSION_MESSAGE);
  v.setFloat64(at + 1, sessionId, true);
  v.setFloat64(at + 9, sequence, true);
  v.setFloat64(at + 17, timestamp, true);
  bytes.set(payload, at + SESSION_HEADER);
}

export function encodeTimerEvent(correlationId: number, timestamp: number): Uint8Array {
  const out = new Uint8Array(TIMER_LENGTH);
  const v = new DataView(out.buffer);
  v.setUint8(0, EntryKind.TIMER);
  v.setFloat64(1, correlationId, true);
  v.setFloat64(9, timestamp, true);
  return out;
}

export function encodeClusterAction(action: number, timestamp: number): Uint8Array {
  const out = new Uint8Array(ACTION_LENGTH);
  const v = new DataView(out.buffer);
  v.setUint8(0, EntryKind.CLUSTER_ACTION);
  v.setUint8(1, action);
  v.setFloat64(2, timestamp, true);
  return out;
}

/** Where a session's client takes its answers: its egress channel and stream. */
export interface SessionResponse {
  readonly channel: string;
  readonly streamId: number;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

export function encodeSessionOpen(sessionId: number, timestamp: number, response?: SessionResponse): Uint8Array {
  const channel = response === undefined ? null : textEncoder.encode(response.channel);
  if (channel !== null && channel.length > 0xffff) throw new RangeError(`egress channel of ${channel.length} bytes, more than 65535`);
  const out = new Uint8Array(OPEN_LENGTH + (channel === null ? 0 : 6 + channel.length));
  const v = new DataView(out.buffer);
  v.setUint8(0, EntryKind.SESSION_OPEN);
  v.setFloat64(1, sessionId, true);
  v.setFloat64(9, timestamp, true);
  if (channel !== null) {
    v.setInt32(OPEN_LENGTH, response!.streamId, true);
    v.setUint16(OPEN_LENGTH + 4, channel.length, true);
    out.set(channel, OPEN_LENGTH + 6);
  }
  return out;
}

export function encodeSessionClose(sessionId: number, reason: CloseReason, timestamp: number): Uint8Array {
  const out = new Uint8Array(CLOSE_LENGTH);
  const v = new DataView(out.buffer);
  v.setUint8(0, EntryKind.SESSION_CLOSE);
  v.setFloat64(1, sessionId, true);
  v.setUint8(9, reason);
  v.setFloat64(10, timestamp, true);
  return out;
}

/**
 * Reads session message entries (one per command) in place: the fields of the entry {@link wrap}
 * took last, and no object per entry. It keeps a view over the whole buffer of the entry read
 * last: entries cut from one slab or one LogData message share their buffer, so an entry is read
 * without making a DataView of its own.
 */
export class SessionMessageReader {
  sessionId = 0;
  sequence = 0;
  timestamp = 0;
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

  /** Reads `data` when it is a session message whole (true); anything else leaves the fields as they were (false). */
  wrap(data: Uint8Array): boolean {
    if (data.length < SESSION_HEADER || data[0] !== EntryKind.SESSION_MESSAGE) return false;
    if (this.view.buffer !== data.buffer) this.view = new DataView(data.buffer);
    const at = data.byteOffset;
    this.sessionId = this.view.getFloat64(at + 1, true);
    this.sequence = this.view.getFloat64(at + 9, true);
    this.timestamp = this.view.getFloat64(at + 17, true);
    return true;
  }

  /** The command of a session message `wrap` took (a view into its bytes). */
  static payload(data: Uint8Array): Uint8Array {
    return data.subarray(SESSION_HEADER);
  }
}

const sessionMessages = new SessionMessageReader();

export function decodeEntry(data: Uint8Array): DecodedEntry {
  if (data.length === 0) return { kind: 'unknown', reason: 'an empty entry' };
  if (data[0] === EntryKind.SESSION_MESSAGE) {
    if (!sessionMessages.wrap(data)) return { kind: 'unknown', reason: `a session message of ${data.length} bytes` };
    return { kind: 'session', sessionId: sessionMessages.sessionId, sequence: sessionMessages.sequence, timestamp: sessionMessages.timestamp, payload: SessionMessageReader.payload(data) };
  }
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  switch (data[0]) {
    case EntryKind.TIMER:
      if (data.length !== TIMER_LENGTH) return { kind: 'unknown', reason: `a timer event of ${data.length} bytes` };
      return { kind: 'timer', correlationId: v.getFloat64(1, true), timestamp: v.getFloat64(9, true) };
    case EntryKind.CLUSTER_ACTION:
      if (data.length !== ACTION_LENGTH) return { kind: 'unknown', reason: `a cluster action of ${data.length} bytes` };
      return { kind: 'action', action: data[1]!, timestamp: v.getFloat64(2, true) };
    case EntryKind.SESSION_OPEN: {
      if (data.length === OPEN_LENGTH) return { kind: 'open', sessionId: v.getFloat64(1, true), timestamp: v.getFloat64(9, true) };
      if (data.length < OPEN_LENGTH + 6 || data.length !== OPEN_LENGTH + 6 + v.getUint16(OPEN_LENGTH + 4, true)) return { kind: 'unknown', reason: `a session open of ${data.length} bytes` };
      const response = { streamId: v.getInt32(OPEN_LENGTH, true), channel: textDecoder.decode(data.subarray(OPEN_LENGTH + 6)) };
      return { kind: 'open', sessionId: v.getFloat64(1, true), timestamp: v.getFloat64(9, true), response };
    }
    case EntryKind.SESSION_CLOSE: {
      if (data.length !== CLOSE_LENGTH) return { kind: 'unknown', reason: `a session close of ${data.length} bytes` };
      const reason = data[9]!;
      if (reason > CloseReason.TIMEOUT) return { kind: 'unknown', reason: `a session close with reason ${reason}` };
      return { kind: 'close', sessionId: v.getFloat64(1, true), reason: reason as CloseReason, timestamp: v.getFloat64(10, true) };
    }
    case EntryKind.TERM_START:
      if (data.length !== 9) return { kind: 'unknown', reason: `a term start of ${data.length} bytes` };
      return { kind: 'termStart', leadershipTermId: v.getFloat64(1, true) };
    default:
      return { kind: 'unknown', reason: `entry kind ${data[0]}` };
  }
}
