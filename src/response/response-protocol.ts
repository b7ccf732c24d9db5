import { ErrorCode, SkeinError } from '../util/errors.js';

/**
 * The request/response layer's framing. It rides in the DATA frame's 64-bit reserved value, so a
 * payload is exactly the application's bytes: the high 32 bits carry a marker and the message
 * kind, the low 32 bits the request's correlation id. A message whose reserved value lacks the
 * marker is a plain request (as Aeron's response samples send): the server answers it with a
 * plain message, so Aeron's response client works against a Skein server.
 *
 * ```
 *  reservedValueHigh: 0x534B (ASCII "SK") << 16 | version << 8 | kind
 *  reservedValueLow:  correlation id (int32, per client, wrapping)
 * ```
 */
export const RESPONSE_PROTOCOL_MARKER = 0x534b;
export const RESPONSE_PROTOCOL_VERSION = 1;

export const MessageKind = {
  /** Not a Skein request/response message (no marker): a plain request or answer. */
  PLAIN: 0,
  REQUEST: 1,
  RESPONSE: 2,
  /** Client → server every heartbeat interval; the server echoes it with the same correlation id. */
  HEARTBEAT: 3,
  /** Either side is closing the session on purpose. */
  CLOSE: 4,
  /** The server's handler failed; the payload is the error message (UTF-8). */
  ERROR: 5,
} as const;
export type MessageKind = (typeof MessageKind)[keyof typeof MessageKind];

/** The reserved value's high word for a message of `kind`. */
export function markerWord(kind: MessageKind): number {
  return ((RESPONSE_PROTOCOL_MARKER << 16) | (RESPONSE_PROTOCOL_VERSION << 8) | kind) | 0;
}

/** The kind of a message from its reserved value's high word; PLAIN when the marker is absent or the version unknown. */
export function messageKind(reservedValueHigh: number): MessageKind {
  if (reservedValueHigh >>> 16 !== RESPONSE_PROTOCOL_MARKER || ((reservedValueHigh >>> 8) & 0xff) !== RESPONSE_PROTOCOL_VERSION) {
    return MessageKind.PLAIN;
  }
  const kind = reservedValueHigh & 0xff;
  return kind >= MessageKind.REQUEST && kind <= MessageKind.ERROR ? (kind as MessageKind) : MessageKind.PLAIN;
}

const RETRYABLE = new Set<string>([ErrorCode.REQUEST_TIMEOUT, ErrorCode.NOT_CONNECTED, ErrorCode.PEER_LOST, ErrorCode.IN_FLIGHT_LIMIT, ErrorCode.BACK_PRESSURED]);

/** True for request errors that a retry may cure: timeouts, a lost or not yet connected peer, back pressure, a full in-flight window. */
export function isRetryable(error: unknown): boolean {
  return error instanceof SkeinError && RETRYABLE.has(error.code);
}

/** Default channels and streams, those of Aeron's response samples. */
export const RESPONSE_DEFAULTS = {
  requestChannel: 'aeron:udp?endpoint=localhost:20125',
  requestStreamId: 10000,
  responseControlChannel: 'aeron:udp?control=localhost:20126',
  responseStreamId: 10001,
} as const;
