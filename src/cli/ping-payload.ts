/**
 * The message `skein ping` sends and `skein pong` echoes (the rest, up to the message length, is
 * zeros):
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------------------------------------------------------+
 * |            Send time in ms, float64 (LE), 8 bytes            ...
 * +---------------------------------------------------------------+
 * |            Sequence number, 64-bit integer (LE), 8 bytes     ...
 * +---------------------------------------------------------------+
 * |            Zeros up to the message length                    ...
 * +---------------------------------------------------------------+
 * ```
 *
 * The send time comes from `performance.now()` in the pinging process, which alone reads it.
 */
export const PING_SENT_TIME_OFFSET = 0;
export const PING_SEQUENCE_OFFSET = 8;
/** Smallest ping message: the send time and the sequence number. */
export const PING_LENGTH_MIN = 16;
