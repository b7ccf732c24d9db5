/**
 * Flyweight over the 4096-byte metadata block at the end of a log (layout in
 * `log-buffer-descriptor.ts`, PROTOCOL.md §5).
 *
 * 32-bit fields are numbers. 64-bit fields are numbers too: ids, timeouts and positions all fit
 * in 2^53; a stored value outside ±(2^53 - 1) reads back clamped to that range. The end-of-stream
 * position is stored as INT64_MAX while the stream is open and reads back as
 * `Number.MAX_SAFE_INTEGER` ({@link END_OF_STREAM_POSITION_NONE}), which is above every reachable
 * position.
 *
 * Tail counters are 64-bit in Aeron's layout (termId high, offset low) and are accessed here as
 * two int32 words (low word at +0, high word at +4). One JavaScript thread appends to a log in this
 * version, so the appender's tail reads and advances are plain accesses (Atomics cost 10-30x a plain
 * store); frames are still published by an `Atomics.store` of their length, which orders every
 * write before it. Rotation ({@link setRawTail}, the active term count CAS) stays atomic and stores
 * the offset before the term id, so a reader on another thread may see a new offset with the old
 * term id for a moment but never a term id paired with an offset it never had.
 */
import { assert } from '../util/assert.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import { DATA_FRAME_TYPE, DATA_HEADER_LENGTH, FRAME_ALIGNMENT, UNFRAGMENTED, writeInt32LE } from './frame-descriptor.js';
import {
  LOG_ACTIVE_TERM_COUNT_OFFSET,
  LOG_ACTIVE_TRANSPORT_COUNT_OFFSET,
  LOG_BUFFER_TYPE_CONCURRENT_PUBLICATION,
  LOG_CORRELATION_ID_OFFSET,
  LOG_DEFAULT_FRAME_HEADER_LENGTH_OFFSET,
  LOG_DEFAULT_FRAME_HEADER_MAX_LENGTH,
  LOG_DEFAULT_FRAME_HEADER_OFFSET,
  LOG_END_OF_STREAM_POSITION_OFFSET,
  LOG_ENTITY_TAG_OFFSET,
  LOG_GROUP_OFFSET,
  LOG_INITIAL_TERM_ID_OFFSET,
  LOG_IS_CONNECTED_OFFSET,
  LOG_SHARED_ACROSS_THREADS_OFFSET,
  LOG_IS_PUBLICATION_REVOKED_OFFSET,
  LOG_IS_RESPONSE_OFFSET,
  LOG_LINGER_TIMEOUT_NS_OFFSET,
  LOG_MAX_RESEND_OFFSET,
  LOG_META_DATA_LENGTH,
  LOG_MTU_LENGTH_OFFSET,
  LOG_OS_DEFAULT_SOCKET_RCVBUF_LENGTH_OFFSET,
  LOG_OS_DEFAULT_SOCKET_SNDBUF_LENGTH_OFFSET,
  LOG_OS_MAX_SOCKET_RCVBUF_LENGTH_OFFSET,
  LOG_OS_MAX_SOCKET_SNDBUF_LENGTH_OFFSET,
  LOG_PAGE_SIZE_OFFSET,
  LOG_PUBLICATION_WINDOW_LENGTH_OFFSET,
  LOG_RECEIVER_WINDOW_LENGTH_OFFSET,
  LOG_REJOIN_OFFSET,
  LOG_RELIABLE_OFFSET,
  LOG_RESPONSE_CORRELATION_ID_OFFSET,
  LOG_SIGNAL_EOS_OFFSET,
  LOG_SOCKET_RCVBUF_LENGTH_OFFSET,
  LOG_SOCKET_SNDBUF_LENGTH_OFFSET,
  LOG_SPARSE_OFFSET,
  LOG_SPIES_SIMULATE_CONNECTION_OFFSET,
  LOG_TERM_LENGTH_OFFSET,
  LOG_TETHER_OFFSET,
  LOG_TYPE_OFFSET,
  LOG_UNTETHERED_LINGER_TIMEOUT_NS_OFFSET,
  LOG_UNTETHERED_RESTING_TIMEOUT_NS_OFFSET,
  LOG_UNTETHERED_WINDOW_LIMIT_TIMEOUT_NS_OFFSET,
  PARTITION_COUNT,
  TERM_TAIL_COUNTERS_OFFSET,
  checkPageSize,
  checkTermLength,
  computeTermCount,
  indexByTermCount,
} from './log-buffer-descriptor.js';

/** What {@link LogMetaData.endOfStreamPosition} reads while the stream has not ended. */
export const END_OF_STREAM_POSITION_NONE = Number.MAX_SAFE_INTEGER;

/** Aeron's null value for ids (entity tag, response correlation id). */
export const NULL_VALUE = -1;

const TWO_POW_32 = 2 ** 32;
const MTU_LENGTH_MAX = 65504;
const EOS_LOW_INDEX = LOG_END_OF_STREAM_POSITION_OFFSET >> 2;
const INT64_MAX = 0x7fffffffffffffffn;

/** Options of {@link LogMetaData.initialise}; absent values take the documented defaults. */
export interface LogMetaDataInit {
  correlationId: number;
  initialTermId: number;
  /** Term of the starting position (`term-id` URI parameter); default `initialTermId`. */
  termId?: number;
  /** Offset of the starting position within `termId` (`term-offset`); default 0. */
  termOffset?: number;
  mtuLength: number;
  /** Default: the page size already stored by `LogBuffers.allocate`. */
  pageSize?: number;
  sessionId: number;
  streamId: number;
  /** @default termLength / 2 */
  publicationWindowLength?: number;
  /** @default min(termLength / 2, 128 KiB) */
  receiverWindowLength?: number;
  /** @default 0 */
  socketSndbufLength?: number;
  /** @default 0 */
  osDefaultSocketSndbufLength?: number;
  /** @default 0 */
  osMaxSocketSndbufLength?: number;
  /** @default 0 */
  socketRcvbufLength?: number;
  /** @default 0 */
  osDefaultSocketRcvbufLength?: number;
  /** @default 0 */
  osMaxSocketRcvbufLength?: number;
  /** @default 16 */
  maxResend?: number;
  /** @default -1 */
  entityTag?: number;
  /** @default -1 */
  responseCorrelationId?: number;
  /** @default 5 s */
  lingerTimeoutNs?: number;
  /** @default 5 s */
  untetheredWindowLimitTimeoutNs?: number;
  /** @default 10 s */
  untetheredRestingTimeoutNs?: number;
  /** @default untetheredWindowLimitTimeoutNs */
  untetheredLingerTimeoutNs?: number;
  /** @default false */
  group?: boolean;
  /** @default false */
  isResponse?: boolean;
  /** @default true */
  rejoin?: boolean;
  /** @default true */
  reliable?: boolean;
  /** @default true */
  sparse?: boolean;
  /** @default true */
  signalEos?: boolean;
  /** @default false */
  spiesSimulateConnection?: boolean;
  /** @default true */
  tether?: boolean;
  /** LOG_BUFFER_TYPE_*; @default 0 (concurrent publication) */
  type?: number;
}

export class LogMetaData {
  /** The 4096 metadata bytes. */
  readonly bytes: Uint8Array;
  /** The 32-byte default DATA header template at offset 320. */
  readonly defaultFrameHeader: Uint8Array;
  private readonly ints: Int32Array;
  private readonly longs: BigInt64Array;

  /** `bytes` must be the 4096-byte metadata block, 8-byte aligned within its buffer. */
  constructor(bytes: Uint8Array) {
    assert(bytes.byteLength === LOG_META_DATA_LENGTH, `metadata length ${bytes.byteLength} must be ${LOG_META_DATA_LENGTH}`);
    assert(bytes.byteOffset % 8 === 0, `metadata byteOffset ${bytes.byteOffset} must be 8-byte aligned`);
    this.bytes = bytes;
    this.ints = new Int32Array(bytes.buffer, bytes.byteOffset, LOG_META_DATA_LENGTH >> 2);
    this.longs = new BigInt64Array(bytes.buffer, bytes.byteOffset, LOG_META_DATA_LENGTH >> 3);
    this.defaultFrameHeader = bytes.subarray(LOG_DEFAULT_FRAME_HEADER_OFFSET, LOG_DEFAULT_FRAME_HEADER_OFFSET + DATA_HEADER_LENGTH);
  }

  // ---- tail counters and rotation -------------------------------------------------------------

  /** Term id (high word) of the tail counter of `partition`. */
  rawTailTermId(partition: number): number {
    return this.ints[(TERM_TAIL_COUNTERS_OFFSET >> 2) + partition * 2 + 1]!;
  }

  /** Offset (low word) of the tail counter of `partition`, as stored: may exceed termLength. */
  rawTailOffset(partition: number): number {
    return this.ints[(TERM_TAIL_COUNTERS_OFFSET >> 2) + partition * 2]!;
  }

  /** Tail offset of `partition` clamped to the term length. */
  tailTermOffset(partition: number): number {
    return Math.min(this.rawTailOffset(partition), this.termLength);
  }

  /** Sets the tail of `partition`: the offset first, then the term id. */
  setRawTail(partition: number, termId: number, offset: number): void {
    const index = (TERM_TAIL_COUNTERS_OFFSET >> 2) + partition * 2;
    Atomics.store(this.ints, index, offset);
    Atomics.store(this.ints, index + 1, termId);
  }

  /** Sets only the offset word of the tail of `partition` (the appender's advance). */
  setRawTailOffset(partition: number, offset: number): void {
    this.ints[(TERM_TAIL_COUNTERS_OFFSET >> 2) + partition * 2] = offset;
  }

  get activeTermCount(): number {
    return this.ints[LOG_ACTIVE_TERM_COUNT_OFFSET >> 2]!;
  }

  set activeTermCount(termCount: number) {
    Atomics.store(this.ints, LOG_ACTIVE_TERM_COUNT_OFFSET >> 2, termCount);
  }

  casActiveTermCount(expected: number, update: number): boolean {
    return Atomics.compareExchange(this.ints, LOG_ACTIVE_TERM_COUNT_OFFSET >> 2, expected, update) === (expected | 0);
  }

  /** Partition the producer currently appends to. */
  activePartitionIndex(): number {
    return indexByTermCount(this.activeTermCount);
  }

  // ---- shared status ----------------------------------------------------------------------------

  /** End-of-stream position, or {@link END_OF_STREAM_POSITION_NONE} while the stream is open. */
  get endOfStreamPosition(): number {
    for (;;) {
      const high = Atomics.load(this.ints, EOS_LOW_INDEX + 1);
      const low = Atomics.load(this.ints, EOS_LOW_INDEX);
      if (high === Atomics.load(this.ints, EOS_LOW_INDEX + 1)) {
        return toSafeNumber(high, low);
      }
    }
  }

  /** Stores the position as one atomic 64-bit write; values ≥ 2^53 - 1 store INT64_MAX. */
  set endOfStreamPosition(position: number) {
    const value = position >= END_OF_STREAM_POSITION_NONE ? INT64_MAX : BigInt(checkSafe(position, 'endOfStreamPosition'));
    Atomics.store(this.longs, LOG_END_OF_STREAM_POSITION_OFFSET >> 3, value);
  }

  /** True once the log has been handed to another thread (see LOG_SHARED_ACROSS_THREADS_OFFSET). */
  get sharedAcrossThreads(): boolean {
    return this.ints[LOG_SHARED_ACROSS_THREADS_OFFSET >> 2] !== 0;
  }

  /**
   * Marks the log as used by more than one thread. Call it in the log's own thread before the
   * buffer is posted to another one: frames published from then on use `Atomics`, and those
   * before are ordered by the posting itself.
   */
  markSharedAcrossThreads(): void {
    Atomics.store(this.ints, LOG_SHARED_ACROSS_THREADS_OFFSET >> 2, 1);
  }

  get isConnected(): boolean {
    return Atomics.load(this.ints, LOG_IS_CONNECTED_OFFSET >> 2) === 1;
  }

  set isConnected(value: boolean) {
    Atomics.store(this.ints, LOG_IS_CONNECTED_OFFSET >> 2, value ? 1 : 0);
  }

  get activeTransportCount(): number {
    return Atomics.load(this.ints, LOG_ACTIVE_TRANSPORT_COUNT_OFFSET >> 2);
  }

  set activeTransportCount(count: number) {
    Atomics.store(this.ints, LOG_ACTIVE_TRANSPORT_COUNT_OFFSET >> 2, count);
  }

  get isPublicationRevoked(): boolean {
    return Atomics.load(this.bytes, LOG_IS_PUBLICATION_REVOKED_OFFSET) === 1;
  }

  set isPublicationRevoked(value: boolean) {
    Atomics.store(this.bytes, LOG_IS_PUBLICATION_REVOKED_OFFSET, value ? 1 : 0);
  }

  // ---- 32-bit configuration ---------------------------------------------------------------------

  get initialTermId(): number { return this.int32(LOG_INITIAL_TERM_ID_OFFSET); }
  set initialTermId(v: number) { this.setInt32(LOG_INITIAL_TERM_ID_OFFSET, v); }
  get defaultFrameHeaderLength(): number { return this.int32(LOG_DEFAULT_FRAME_HEADER_LENGTH_OFFSET); }
  set defaultFrameHeaderLength(v: number) { this.setInt32(LOG_DEFAULT_FRAME_HEADER_LENGTH_OFFSET, v); }
  get mtuLength(): number { return this.int32(LOG_MTU_LENGTH_OFFSET); }
  set mtuLength(v: number) { this.setInt32(LOG_MTU_LENGTH_OFFSET, v); }
  get termLength(): number { return this.int32(LOG_TERM_LENGTH_OFFSET); }
  set termLength(v: number) { this.setInt32(LOG_TERM_LENGTH_OFFSET, v); }
  get pageSize(): number { return this.int32(LOG_PAGE_SIZE_OFFSET); }
  set pageSize(v: number) { this.setInt32(LOG_PAGE_SIZE_OFFSET, v); }
  get publicationWindowLength(): number { return this.int32(LOG_PUBLICATION_WINDOW_LENGTH_OFFSET); }
  set publicationWindowLength(v: number) { this.setInt32(LOG_PUBLICATION_WINDOW_LENGTH_OFFSET, v); }
  get receiverWindowLength(): number { return this.int32(LOG_RECEIVER_WINDOW_LENGTH_OFFSET); }
  set receiverWindowLength(v: number) { this.setInt32(LOG_RECEIVER_WINDOW_LENGTH_OFFSET, v); }
  get socketSndbufLength(): number { return this.int32(LOG_SOCKET_SNDBUF_LENGTH_OFFSET); }
  set socketSndbufLength(v: number) { this.setInt32(LOG_SOCKET_SNDBUF_LENGTH_OFFSET, v); }
  get osDefaultSocketSndbufLength(): number { return this.int32(LOG_OS_DEFAULT_SOCKET_SNDBUF_LENGTH_OFFSET); }
  set osDefaultSocketSndbufLength(v: number) { this.setInt32(LOG_OS_DEFAULT_SOCKET_SNDBUF_LENGTH_OFFSET, v); }
  get osMaxSocketSndbufLength(): number { return this.int32(LOG_OS_MAX_SOCKET_SNDBUF_LENGTH_OFFSET); }
  set osMaxSocketSndbufLength(v: number) { this.setInt32(LOG_OS_MAX_SOCKET_SNDBUF_LENGTH_OFFSET, v); }
  get socketRcvbufLength(): number { return this.int32(LOG_SOCKET_RCVBUF_LENGTH_OFFSET); }
  set socketRcvbufLength(v: number) { this.setInt32(LOG_SOCKET_RCVBUF_LENGTH_OFFSET, v); }
  get osDefaultSocketRcvbufLength(): number { return this.int32(LOG_OS_DEFAULT_SOCKET_RCVBUF_LENGTH_OFFSET); }
  set osDefaultSocketRcvbufLength(v: number) { this.setInt32(LOG_OS_DEFAULT_SOCKET_RCVBUF_LENGTH_OFFSET, v); }
  get osMaxSocketRcvbufLength(): number { return this.int32(LOG_OS_MAX_SOCKET_RCVBUF_LENGTH_OFFSET); }
  set osMaxSocketRcvbufLength(v: number) { this.setInt32(LOG_OS_MAX_SOCKET_RCVBUF_LENGTH_OFFSET, v); }
  get maxResend(): number { return this.int32(LOG_MAX_RESEND_OFFSET); }
  set maxResend(v: number) { this.setInt32(LOG_MAX_RESEND_OFFSET, v); }

  // ---- 64-bit configuration ---------------------------------------------------------------------

  get correlationId(): number { return this.int64(LOG_CORRELATION_ID_OFFSET); }
  set correlationId(v: number) { this.setInt64(LOG_CORRELATION_ID_OFFSET, v, 'correlationId'); }
  get entityTag(): number { return this.int64(LOG_ENTITY_TAG_OFFSET); }
  set entityTag(v: number) { this.setInt64(LOG_ENTITY_TAG_OFFSET, v, 'entityTag'); }
  get responseCorrelationId(): number { return this.int64(LOG_RESPONSE_CORRELATION_ID_OFFSET); }
  set responseCorrelationId(v: number) { this.setInt64(LOG_RESPONSE_CORRELATION_ID_OFFSET, v, 'responseCorrelationId'); }
  get lingerTimeoutNs(): number { return this.int64(LOG_LINGER_TIMEOUT_NS_OFFSET); }
  set lingerTimeoutNs(v: number) { this.setInt64(LOG_LINGER_TIMEOUT_NS_OFFSET, v, 'lingerTimeoutNs'); }
  get untetheredWindowLimitTimeoutNs(): number { return this.int64(LOG_UNTETHERED_WINDOW_LIMIT_TIMEOUT_NS_OFFSET); }
  set untetheredWindowLimitTimeoutNs(v: number) {
    this.setInt64(LOG_UNTETHERED_WINDOW_LIMIT_TIMEOUT_NS_OFFSET, v, 'untetheredWindowLimitTimeoutNs');
  }
  get untetheredRestingTimeoutNs(): number { return this.int64(LOG_UNTETHERED_RESTING_TIMEOUT_NS_OFFSET); }
  set untetheredRestingTimeoutNs(v: number) {
    this.setInt64(LOG_UNTETHERED_RESTING_TIMEOUT_NS_OFFSET, v, 'untetheredRestingTimeoutNs');
  }
  get untetheredLingerTimeoutNs(): number { return this.int64(LOG_UNTETHERED_LINGER_TIMEOUT_NS_OFFSET); }
  set untetheredLingerTimeoutNs(v: number) {
    this.setInt64(LOG_UNTETHERED_LINGER_TIMEOUT_NS_OFFSET, v, 'untetheredLingerTimeoutNs');
  }

  // ---- flag bytes -------------------------------------------------------------------------------

  get group(): boolean { return this.flag(LOG_GROUP_OFFSET); }
  set group(v: boolean) { this.setFlag(LOG_GROUP_OFFSET, v); }
  get isResponse(): boolean { return this.flag(LOG_IS_RESPONSE_OFFSET); }
  set isResponse(v: boolean) { this.setFlag(LOG_IS_RESPONSE_OFFSET, v); }
  get rejoin(): boolean { return this.flag(LOG_REJOIN_OFFSET); }
  set rejoin(v: boolean) { this.setFlag(LOG_REJOIN_OFFSET, v); }
  get reliable(): boolean { return this.flag(LOG_RELIABLE_OFFSET); }
  set reliable(v: boolean) { this.setFlag(LOG_RELIABLE_OFFSET, v); }
  get sparse(): boolean { return this.flag(LOG_SPARSE_OFFSET); }
  set sparse(v: boolean) { this.setFlag(LOG_SPARSE_OFFSET, v); }
  get signalEos(): boolean { return this.flag(LOG_SIGNAL_EOS_OFFSET); }
  set signalEos(v: boolean) { this.setFlag(LOG_SIGNAL_EOS_OFFSET, v); }
  get spiesSimulateConnection(): boolean { return this.flag(LOG_SPIES_SIMULATE_CONNECTION_OFFSET); }
  set spiesSimulateConnection(v: boolean) { this.setFlag(LOG_SPIES_SIMULATE_CONNECTION_OFFSET, v); }
  get tether(): boolean { return this.flag(LOG_TETHER_OFFSET); }
  set tether(v: boolean) { this.setFlag(LOG_TETHER_OFFSET, v); }
  /** LOG_BUFFER_TYPE_* value. */
  get type(): number { return this.bytes[LOG_TYPE_OFFSET]!; }
  set type(v: number) { this.bytes[LOG_TYPE_OFFSET] = v; }

  // ---- initialisation ---------------------------------------------------------------------------

  /**
   * Writes every metadata field, the tail counters and the default frame header. The term length
   * must already be stored (`LogBuffers.allocate` does it). Without `termId` the log starts at
   * position 0: partition 0 holds `initialTermId`, partitions 1 and 2 the ids three terms earlier
   * (`initialTermId + i - 3`). With `termId`/`termOffset` the active partition is
   * `termCount mod 3` with its tail preset to the offset, the two others hold the ids three terms
   * before theirs, and activeTermCount = termCount.
   */
  initialise(options: LogMetaDataInit): void {
    const termLength = this.termLength;
    const pageSize = options.pageSize ?? this.pageSize;
    const termId = options.termId ?? options.initialTermId;
    const termOffset = options.termOffset ?? 0;
    checkTermLength(termLength);
    checkPageSize(pageSize);
    checkInit(options, termLength, termId, termOffset);
    this.bytes.fill(0, 0, LOG_META_DATA_LENGTH);
    this.termLength = termLength;
    this.pageSize = pageSize;
    this.initialiseTails(options.initialTermId, termId, termOffset);
    this.endOfStreamPosition = END_OF_STREAM_POSITION_NONE;
    this.writeConfiguration(options, termLength);
    this.writeDefaultFrameHeader(options.sessionId, options.streamId, options.initialTermId);
  }

  private initialiseTails(initialTermId: number, termId: number, termOffset: number): void {
    const termCount = computeTermCount(termId, initialTermId);
    const activeIndex = indexByTermCount(termCount);
    this.setRawTail(activeIndex, termId, termOffset);
    for (let i = 1; i < PARTITION_COUNT; i++) {
      this.setRawTail((activeIndex + i) % PARTITION_COUNT, (termId + i - PARTITION_COUNT) | 0, 0);
    }
    this.activeTermCount = termCount;
  }

  private writeConfiguration(o: LogMetaDataInit, termLength: number): void {
    this.correlationId = o.correlationId;
    this.initialTermId = o.initialTermId;
    this.defaultFrameHeaderLength = DATA_HEADER_LENGTH;
    this.mtuLength = o.mtuLength;
    this.publicationWindowLength = o.publicationWindowLength ?? termLength / 2;
    this.receiverWindowLength = o.receiverWindowLength ?? Math.min(termLength / 2, 128 * 1024);
    this.socketSndbufLength = o.socketSndbufLength ?? 0;
    this.osDefaultSocketSndbufLength = o.osDefaultSocketSndbufLength ?? 0;
    this.osMaxSocketSndbufLength = o.osMaxSocketSndbufLength ?? 0;
    this.socketRcvbufLength = o.socketRcvbufLength ?? 0;
    this.osDefaultSocketRcvbufLength = o.osDefaultSocketRcvbufLength ?? 0;
    this.osMaxSocketRcvbufLength = o.osMaxSocketRcvbufLength ?? 0;
    this.maxResend = o.maxResend ?? 16;
    this.entityTag = o.entityTag ?? NULL_VALUE;
    this.responseCorrelationId = o.responseCorrelationId ?? NULL_VALUE;
    this.lingerTimeoutNs = o.lingerTimeoutNs ?? 5_000_000_000;
    this.untetheredWindowLimitTimeoutNs = o.untetheredWindowLimitTimeoutNs ?? 5_000_000_000;
    this.untetheredRestingTimeoutNs = o.untetheredRestingTimeoutNs ?? 10_000_000_000;
    this.untetheredLingerTimeoutNs = o.untetheredLingerTimeoutNs ?? this.untetheredWindowLimitTimeoutNs;
    this.group = o.group ?? false;
    this.isResponse = o.isResponse ?? false;
    this.rejoin = o.rejoin ?? true;
    this.reliable = o.reliable ?? true;
    this.sparse = o.sparse ?? true;
    this.signalEos = o.signalEos ?? true;
    this.spiesSimulateConnection = o.spiesSimulateConnection ?? false;
    this.tether = o.tether ?? true;
    this.type = o.type ?? LOG_BUFFER_TYPE_CONCURRENT_PUBLICATION;
  }

  private writeDefaultFrameHeader(sessionId: number, streamId: number, initialTermId: number): void {
    const h = this.defaultFrameHeader;
    this.bytes.fill(0, LOG_DEFAULT_FRAME_HEADER_OFFSET, LOG_DEFAULT_FRAME_HEADER_OFFSET + LOG_DEFAULT_FRAME_HEADER_MAX_LENGTH);
    h[5] = UNFRAGMENTED;
    h[6] = DATA_FRAME_TYPE;
    writeInt32LE(h, 12, sessionId);
    writeInt32LE(h, 16, streamId);
    writeInt32LE(h, 20, initialTermId);
  }

  // ---- raw access -------------------------------------------------------------------------------

  private int32(offset: number): number {
    return this.ints[offset >> 2]!;
  }

  private setInt32(offset: number, value: number): void {
    this.ints[offset >> 2] = value;
  }

  private int64(offset: number): number {
    return toSafeNumber(this.ints[(offset >> 2) + 1]!, this.ints[offset >> 2]!);
  }

  private setInt64(offset: number, value: number, name: string): void {
    checkSafe(value, name);
    const high = Math.floor(value / TWO_POW_32);
    this.ints[offset >> 2] = value - high * TWO_POW_32;
    this.ints[(offset >> 2) + 1] = high;
  }

  private flag(offset: number): boolean {
    return this.bytes[offset] === 1;
  }

  private setFlag(offset: number, value: boolean): void {
    this.bytes[offset] = value ? 1 : 0;
  }
}

/** Combines signed high and (signed-stored) low words, clamping to ±(2^53 - 1). */
function toSafeNumber(high: number, low: number): number {
  const value = high * TWO_POW_32 + (low >>> 0);
  if (value > Number.MAX_SAFE_INTEGER) return Number.MAX_SAFE_INTEGER;
  if (value < -Number.MAX_SAFE_INTEGER) return -Number.MAX_SAFE_INTEGER;
  return value;
}

function checkSafe(value: number, name: string): number {
  if (!Number.isSafeInteger(value)) {
    throw new SkeinError(ErrorCode.ARG_INVALID, `${name}=${value} must be an integer in ±(2^53 - 1)`);
  }
  return value;
}

function checkInit(o: LogMetaDataInit, termLength: number, termId: number, termOffset: number): void {
  const problems: string[] = [];
  if (!isInt32(o.initialTermId)) problems.push(`initialTermId=${o.initialTermId} must be an int32`);
  if (!isInt32(termId)) problems.push(`termId=${termId} must be an int32`);
  if (!isInt32(o.sessionId)) problems.push(`sessionId=${o.sessionId} must be an int32`);
  if (!isInt32(o.streamId)) problems.push(`streamId=${o.streamId} must be an int32`);
  if (!Number.isInteger(o.mtuLength) || o.mtuLength <= DATA_HEADER_LENGTH || o.mtuLength > MTU_LENGTH_MAX || o.mtuLength % FRAME_ALIGNMENT !== 0) {
    problems.push(`mtuLength=${o.mtuLength} must be a multiple of ${FRAME_ALIGNMENT} in (${DATA_HEADER_LENGTH}, ${MTU_LENGTH_MAX}]`);
  }
  if (!Number.isInteger(termOffset) || termOffset < 0 || termOffset > termLength || termOffset % FRAME_ALIGNMENT !== 0) {
    problems.push(`termOffset=${termOffset} must be a multiple of ${FRAME_ALIGNMENT} in [0, ${termLength}]`);
  }
  if (isInt32(termId) && isInt32(o.initialTermId) && computeTermCount(termId, o.initialTermId) < 0) {
    problems.push(`termId=${termId} is before initialTermId=${o.initialTermId} (term count must be in [0, 2^31 - 1])`);
  }
  if (problems.length > 0) {
    throw new SkeinError(ErrorCode.CONFIG_INVALID, `invalid log metadata: ${problems.join('; ')}`, { sessionId: o.sessionId, streamId: o.streamId });
  }
}

function isInt32(value: number): boolean {
  return Number.isInteger(value) && value >= -0x80000000 && value <= 0x7fffffff;
}
