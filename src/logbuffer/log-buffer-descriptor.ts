/**
 * Layout of a log buffer and the arithmetic of stream positions (PROTOCOL.md §4, §5, §6).
 *
 * ```
 *  +----------------------------+  0
 *  |           Term 0           |
 *  +----------------------------+  termLength
 *  |           Term 1           |
 *  +----------------------------+  2 * termLength
 *  |           Term 2           |
 *  +----------------------------+  3 * termLength
 *  |   (gap up to page size)    |
 *  +----------------------------+  logLength - 4096
 *  |      Log metadata (4 KiB)  |
 *  +----------------------------+  logLength = align(3 * termLength + 4096, pageSize)
 * ```
 *
 * Metadata offsets (little-endian, inside the last 4096 bytes):
 *
 * | Offset | Size | Field |
 * |---|---|---|
 * | 0, 8, 16 | 8 each | tail counters of partitions 0..2: termId in the high 32 bits, offset in the low 32 |
 * | 24 | 4 | activeTermCount |
 * | 128 | 8 | endOfStreamPosition (INT64_MAX while the stream is open) |
 * | 136 | 4 | isConnected |
 * | 140 | 4 | activeTransportCount |
 * | 256 | 8 | correlationId |
 * | 264..316 | 4 each | initialTermId, defaultFrameHeaderLength, mtuLength, termLength, pageSize, publicationWindowLength, receiverWindowLength, socket buffer lengths (6), maxResend |
 * | 320 | 128 | default frame header (32 bytes used) |
 * | 448..480 | 8 each | entityTag, responseCorrelationId, lingerTimeoutNs, untetheredWindowLimitTimeoutNs, untetheredRestingTimeoutNs |
 * | 488..497 | 1 each | group, isResponse, rejoin, reliable, sparse, signalEos, spiesSimulateConnection, tether, isPublicationRevoked, type |
 * | 500 | 8 | untetheredLingerTimeoutNs |
 *
 * Positions are JavaScript numbers: every function here multiplies and divides instead of
 * shifting, so results are exact up to 2^53 (see {@link maxPossiblePosition}). Term ids and term
 * counts wrap as signed 32-bit integers.
 */
import { alignLong, isPowerOfTwo, log2 } from '../util/bits.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import { DATA_HEADER_LENGTH, FRAME_ALIGNMENT } from './frame-descriptor.js';

export const PARTITION_COUNT = 3;
export const LOG_META_DATA_LENGTH = 4096;
export const TERM_MIN_LENGTH = 64 * 1024;
export const TERM_MAX_LENGTH = 1024 * 1024 * 1024;
export const PAGE_MIN_SIZE = 4 * 1024;
export const PAGE_MAX_SIZE = 1024 * 1024 * 1024;
/** Upper bound of {@link computeMaxMessageLength}. */
export const MAX_MESSAGE_LENGTH = 16 * 1024 * 1024;

/** Values of the log type byte ({@link LOG_TYPE_OFFSET}). */
export const LOG_BUFFER_TYPE_CONCURRENT_PUBLICATION = 0;
export const LOG_BUFFER_TYPE_EXCLUSIVE_PUBLICATION = 1;
export const LOG_BUFFER_TYPE_PUBLICATION_IMAGE = 2;

export const TERM_TAIL_COUNTERS_OFFSET = 0;
export const LOG_ACTIVE_TERM_COUNT_OFFSET = 24;
export const LOG_END_OF_STREAM_POSITION_OFFSET = 128;
export const LOG_IS_CONNECTED_OFFSET = 136;
export const LOG_ACTIVE_TRANSPORT_COUNT_OFFSET = 140;
/**
 * Skein's own word, in the padding Aeron leaves between 144 and 256: 1 once the log has been
 * handed to another thread (a worker link), after which frames are published and read with
 * `Atomics`; while 0 every reader and writer of the log runs in the thread that created it, where
 * program order alone orders a frame's bytes before its length.
 */
export const LOG_SHARED_ACROSS_THREADS_OFFSET = 192;
export const LOG_CORRELATION_ID_OFFSET = 256;
export const LOG_INITIAL_TERM_ID_OFFSET = 264;
export const LOG_DEFAULT_FRAME_HEADER_LENGTH_OFFSET = 268;
export const LOG_MTU_LENGTH_OFFSET = 272;
export const LOG_TERM_LENGTH_OFFSET = 276;
export const LOG_PAGE_SIZE_OFFSET = 280;
export const LOG_PUBLICATION_WINDOW_LENGTH_OFFSET = 284;
export const LOG_RECEIVER_WINDOW_LENGTH_OFFSET = 288;
export const LOG_SOCKET_SNDBUF_LENGTH_OFFSET = 292;
export const LOG_OS_DEFAULT_SOCKET_SNDBUF_LENGTH_OFFSET = 296;
export const LOG_OS_MAX_SOCKET_SNDBUF_LENGTH_OFFSET = 300;
export const LOG_SOCKET_RCVBUF_LENGTH_OFFSET = 304;
export const LOG_OS_DEFAULT_SOCKET_RCVBUF_LENGTH_OFFSET = 308;
export const LOG_OS_MAX_SOCKET_RCVBUF_LENGTH_OFFSET = 312;
export const LOG_MAX_RESEND_OFFSET = 316;
export const LOG_DEFAULT_FRAME_HEADER_OFFSET = 320;
export const LOG_DEFAULT_FRAME_HEADER_MAX_LENGTH = 128;
export const LOG_ENTITY_TAG_OFFSET = 448;
export const LOG_RESPONSE_CORRELATION_ID_OFFSET = 456;
export const LOG_LINGER_TIMEOUT_NS_OFFSET = 464;
export const LOG_UNTETHERED_WINDOW_LIMIT_TIMEOUT_NS_OFFSET = 472;
export const LOG_UNTETHERED_RESTING_TIMEOUT_NS_OFFSET = 480;
export const LOG_GROUP_OFFSET = 488;
export const LOG_IS_RESPONSE_OFFSET = 489;
export const LOG_REJOIN_OFFSET = 490;
export const LOG_RELIABLE_OFFSET = 491;
export const LOG_SPARSE_OFFSET = 492;
export const LOG_SIGNAL_EOS_OFFSET = 493;
export const LOG_SPIES_SIMULATE_CONNECTION_OFFSET = 494;
export const LOG_TETHER_OFFSET = 495;
export const LOG_IS_PUBLICATION_REVOKED_OFFSET = 496;
export const LOG_TYPE_OFFSET = 497;
export const LOG_UNTETHERED_LINGER_TIMEOUT_NS_OFFSET = 500;

const TWO_POW_31 = 2 ** 31;
/** Powers of two by exponent: `2 ** n` with a variable exponent is a slow call on hot paths. */
const POW2: readonly number[] = Array.from({ length: 64 }, (_, n) => 2 ** n);

/** Throws CONFIG_INVALID unless `termLength` is a power of two in [64 KiB, 1 GiB]. */
export function checkTermLength(termLength: number): void {
  if (!Number.isInteger(termLength) || termLength < TERM_MIN_LENGTH || termLength > TERM_MAX_LENGTH || !isPowerOfTwo(termLength)) {
    throw new SkeinError(
      ErrorCode.CONFIG_INVALID,
      `termLength=${termLength} must be a power of two in [${TERM_MIN_LENGTH}, ${TERM_MAX_LENGTH}]`,
    );
  }
}

/** Throws CONFIG_INVALID unless `pageSize` is a power of two in [4 KiB, 1 GiB]. */
export function checkPageSize(pageSize: number): void {
  if (!Number.isInteger(pageSize) || pageSize < PAGE_MIN_SIZE || pageSize > PAGE_MAX_SIZE || !isPowerOfTwo(pageSize)) {
    throw new SkeinError(
      ErrorCode.CONFIG_INVALID,
      `pageSize=${pageSize} must be a power of two in [${PAGE_MIN_SIZE}, ${PAGE_MAX_SIZE}]`,
    );
  }
}

/** log2(termLength); the term length must be valid ({@link checkTermLength}). */
export function positionBitsToShift(termLength: number): number {
  checkTermLength(termLength);
  return log2(termLength);
}

/** Number of terms between `initialTermId` and `termId`, as a wrapping signed 32-bit value. */
export function computeTermCount(termId: number, initialTermId: number): number {
  return (termId - initialTermId) | 0;
}

/** Stream position of (`activeTermId`, `termOffset`). */
export function computePosition(
  activeTermId: number,
  termOffset: number,
  positionBitsToShift: number,
  initialTermId: number,
): number {
  return ((activeTermId - initialTermId) | 0) * POW2[positionBitsToShift]! + termOffset;
}

/** Stream position of the first byte of term `activeTermId`. */
export function computeTermBeginPosition(activeTermId: number, positionBitsToShift: number, initialTermId: number): number {
  return ((activeTermId - initialTermId) | 0) * POW2[positionBitsToShift]!;
}

/** Term id holding `position` (wraps as int32). */
export function computeTermIdFromPosition(position: number, positionBitsToShift: number, initialTermId: number): number {
  return (Math.floor(position / POW2[positionBitsToShift]!) + initialTermId) | 0;
}

/** Offset of `position` within its term. */
export function computeTermOffsetFromPosition(position: number, positionBitsToShift: number): number {
  const termLength = POW2[positionBitsToShift]!;
  return position - Math.floor(position / termLength) * termLength;
}

/** Partition index of term `activeTermId`. */
export function indexByTerm(initialTermId: number, activeTermId: number): number {
  return ((activeTermId - initialTermId) | 0) % PARTITION_COUNT;
}

/** Partition index after `termCount` rotations. */
export function indexByTermCount(termCount: number): number {
  return termCount % PARTITION_COUNT;
}

/** Partition index of the term holding `position`. */
export function indexByPosition(position: number, positionBitsToShift: number): number {
  return Math.floor(position / POW2[positionBitsToShift]!) % PARTITION_COUNT;
}

/** Partition that follows `partitionIndex`. */
export function nextPartitionIndex(partitionIndex: number): number {
  return (partitionIndex + 1) % PARTITION_COUNT;
}

/** Largest message a log with this term length accepts: min(termLength / 8, 16 MiB). */
export function computeMaxMessageLength(termLength: number): number {
  return Math.min(termLength / 8, MAX_MESSAGE_LENGTH);
}

/**
 * Bytes of term a message of `length` occupies once cut into frames carrying at most
 * `maxPayloadLength` bytes each: full frames of `maxPayloadLength + 32`, then the remainder
 * with its header, aligned to 32.
 */
export function computeFragmentedFrameLength(length: number, maxPayloadLength: number): number {
  const fullFrameCount = Math.floor(length / maxPayloadLength);
  const remainder = length - fullFrameCount * maxPayloadLength;
  const lastFrameLength = remainder > 0 ? alignLong(remainder + DATA_HEADER_LENGTH, FRAME_ALIGNMENT) : 0;
  return fullFrameCount * (maxPayloadLength + DATA_HEADER_LENGTH) + lastFrameLength;
}

/**
 * Highest position a log of `termLength` can reach: the term count must stay a non-negative
 * int32 (termLength × 2^31) and positions must stay exact JavaScript integers (≤ 2^53 - 1,
 * rounded down to a whole term).
 */
export function maxPossiblePosition(termLength: number): number {
  return Math.min(termLength * TWO_POW_31, Math.floor(Number.MAX_SAFE_INTEGER / termLength) * termLength);
}

/** Total bytes of a log: align(3 × termLength + 4096, pageSize). */
export function computeLogLength(termLength: number, pageSize: number): number {
  return alignLong(PARTITION_COUNT * termLength + LOG_META_DATA_LENGTH, pageSize);
}
