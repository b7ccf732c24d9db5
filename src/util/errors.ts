/**
 * Operating errors. Every error has a stable `code` (`ERR_SKEIN_<AREA>_<REASON>`), a `category`
 * and, where one applies, the subject it is about (channel, stream, session, correlation id,
 * timeout, state) both in the message and as fields.
 */
export type ErrorCategory = 'fatal' | 'error' | 'warn';

export interface ErrorSubject {
  channel?: string;
  streamId?: number;
  sessionId?: number;
  correlationId?: number;
  /** A stream position (of the fragment a handler failed on, for example). */
  position?: number;
  timeoutMs?: number;
  state?: string;
}

export interface SkeinErrorOptions extends ErrorSubject {
  category?: ErrorCategory;
  cause?: unknown;
}

export class SkeinError extends Error {
  override readonly name: string = 'SkeinError';
  readonly code: SkeinErrorCode;
  readonly category: ErrorCategory;
  readonly subject: ErrorSubject;
  /** The message without its subject (the `[channel=… streamId=…]` part). */
  readonly detail: string;

  constructor(code: SkeinErrorCode, message: string, options: SkeinErrorOptions = {}) {
    super(describe(message, options), options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.detail = message;
    this.category = options.category ?? 'error';
    const { category: _c, cause: _x, ...subject } = options;
    this.subject = subject;
  }
}

/**
 * An operation ended by its AbortSignal, in the shape of Node's own AbortError: `name` is
 * `'AbortError'` and `cause` is `signal.reason` (a `TimeoutError` DOMException when the signal came
 * from `AbortSignal.timeout()`). It is also a SkeinError with code ERR_SKEIN_ABORTED and a subject.
 */
export class SkeinAbortError extends SkeinError {
  override readonly name: string = 'AbortError';

  constructor(message: string, signal: AbortSignal, subject: ErrorSubject = {}) {
    super(ErrorCode.ABORTED, message, { ...subject, cause: signal.reason });
  }
}

/** `1 request is`, `2 requests are`: a count with the word that agrees with it. */
export function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** The message of whatever was thrown, for an error text. */
export function messageOf(thrown: unknown): string {
  return thrown instanceof Error ? thrown.message : String(thrown);
}

/**
 * The error reported when an application callback throws: names what threw and the subject,
 * carries what was thrown as its cause.
 */
export function handlerFailed(what: string, thrown: unknown, subject: ErrorSubject): SkeinError {
  return new SkeinError(ErrorCode.HANDLER_FAILED, `${what} threw: ${messageOf(thrown)}`, { ...subject, cause: thrown });
}

/** True for an abort in Node's convention (ours or Node's own AbortError). */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

function describe(message: string, s: ErrorSubject): string {
  const parts: string[] = [];
  if (s.channel !== undefined) parts.push(`channel=${s.channel}`);
  if (s.streamId !== undefined) parts.push(`streamId=${s.streamId}`);
  if (s.sessionId !== undefined) parts.push(`sessionId=${s.sessionId}`);
  if (s.correlationId !== undefined) parts.push(`correlationId=${s.correlationId}`);
  if (s.position !== undefined) parts.push(`position=${s.position}`);
  if (s.timeoutMs !== undefined) parts.push(`timeoutMs=${s.timeoutMs}`);
  if (s.state !== undefined) parts.push(`state=${s.state}`);
  return parts.length === 0 ? message : `${message} [${parts.join(' ')}]`;
}

/** Error codes in one table so they stay stable and documented. */
export const ErrorCode = {
  URI_INVALID: 'ERR_SKEIN_URI_INVALID',
  URI_PARAM_INVALID: 'ERR_SKEIN_URI_PARAM_INVALID',
  CONFIG_INVALID: 'ERR_SKEIN_CONFIG_INVALID',
  CONFIG_UNKNOWN_OPTION: 'ERR_SKEIN_CONFIG_UNKNOWN_OPTION',
  ARG_INVALID: 'ERR_SKEIN_ARG_INVALID',
  MESSAGE_TOO_LONG: 'ERR_SKEIN_MESSAGE_TOO_LONG',
  CLOSED: 'ERR_SKEIN_CLOSED',
  CLOSE_INCOMPLETE: 'ERR_SKEIN_CLOSE_INCOMPLETE',
  DRIVER_COMMAND_FAILED: 'ERR_SKEIN_DRIVER_COMMAND_FAILED',
  DRIVER_TIMEOUT: 'ERR_SKEIN_DRIVER_TIMEOUT',
  TRANSPORT_BIND_FAILED: 'ERR_SKEIN_TRANSPORT_BIND_FAILED',
  TRANSPORT_SEND_FAILED: 'ERR_SKEIN_TRANSPORT_SEND_FAILED',
  AGENT_ERROR: 'ERR_SKEIN_AGENT_ERROR',
  COUNTERS_FULL: 'ERR_SKEIN_COUNTERS_FULL',
  SNAPSHOT_INVALID: 'ERR_SKEIN_SNAPSHOT_INVALID',
  STORAGE_FAILED: 'ERR_SKEIN_STORAGE_FAILED',
  /** A bounded resource is full (clients of a driver, a cluster session's egress backlog); the message names the limit and its option. */
  LIMIT_REACHED: 'ERR_SKEIN_LIMIT_REACHED',
  /** Request/response: no answer before the request's deadline (retryable). */
  REQUEST_TIMEOUT: 'ERR_SKEIN_REQUEST_TIMEOUT',
  /** Request/response: the session is not connected now (CONNECTING or RECONNECTING; retryable). */
  NOT_CONNECTED: 'ERR_SKEIN_NOT_CONNECTED',
  /** Request/response: the peer was lost while the request was in flight (retryable). */
  PEER_LOST: 'ERR_SKEIN_PEER_LOST',
  /** The stream cannot take the message now (flow control or a term rotation); retryable. */
  BACK_PRESSURED: 'ERR_SKEIN_BACK_PRESSURED',
  /** Request/response: as many requests are in flight as the client allows (retryable). */
  IN_FLIGHT_LIMIT: 'ERR_SKEIN_IN_FLIGHT_LIMIT',
  /** Request/response: the server's handler failed; the message carries its error. */
  REQUEST_FAILED: 'ERR_SKEIN_REQUEST_FAILED',
  /** Request/response: the client could not reconnect before its reconnect deadline. */
  RECONNECT_FAILED: 'ERR_SKEIN_RECONNECT_FAILED',
  /** An operation was aborted by its AbortSignal: the error's name is 'AbortError', its cause `signal.reason`. */
  ABORTED: 'ERR_SKEIN_ABORTED',
  /** A wait (for a connection, for example) passed its own `timeoutMs`; not an abort. */
  TIMEOUT: 'ERR_SKEIN_TIMEOUT',
  /**
   * An application callback threw (fragment, request, image or state handler). The library went
   * on (a fragment counts as consumed); the error is reported and counted with its cause.
   */
  HANDLER_FAILED: 'ERR_SKEIN_HANDLER_FAILED',
  /** The driver stopped because of an error: every later call fails with this code and that error as its cause. */
  DRIVER_FAILED: 'ERR_SKEIN_DRIVER_FAILED',
  /** A message that does not follow its protocol (an SBE message too short, a length past its end, an undeclared enum value); names message, field and value. */
  PROTOCOL_INVALID: 'ERR_SKEIN_PROTOCOL_INVALID',
  /** The archive answered a request with an error; the error's `archiveErrorCode` is Aeron's code (UNKNOWN_RECORDING, STORAGE_SPACE, ...). */
  ARCHIVE_REQUEST_FAILED: 'ERR_SKEIN_ARCHIVE_REQUEST_FAILED',
  /** RPC statuses (docs/rpc.md, "Status codes"), as gRPC numbers them; `RpcError.status` names the status. */
  RPC_CANCELLED: 'ERR_SKEIN_RPC_CANCELLED',
  RPC_UNKNOWN: 'ERR_SKEIN_RPC_UNKNOWN',
  RPC_INVALID_ARGUMENT: 'ERR_SKEIN_RPC_INVALID_ARGUMENT',
  RPC_DEADLINE_EXCEEDED: 'ERR_SKEIN_RPC_DEADLINE_EXCEEDED',
  RPC_NOT_FOUND: 'ERR_SKEIN_RPC_NOT_FOUND',
  RPC_ALREADY_EXISTS: 'ERR_SKEIN_RPC_ALREADY_EXISTS',
  RPC_PERMISSION_DENIED: 'ERR_SKEIN_RPC_PERMISSION_DENIED',
  RPC_RESOURCE_EXHAUSTED: 'ERR_SKEIN_RPC_RESOURCE_EXHAUSTED',
  RPC_FAILED_PRECONDITION: 'ERR_SKEIN_RPC_FAILED_PRECONDITION',
  RPC_ABORTED: 'ERR_SKEIN_RPC_ABORTED',
  RPC_OUT_OF_RANGE: 'ERR_SKEIN_RPC_OUT_OF_RANGE',
  RPC_UNIMPLEMENTED: 'ERR_SKEIN_RPC_UNIMPLEMENTED',
  RPC_INTERNAL: 'ERR_SKEIN_RPC_INTERNAL',
  RPC_UNAVAILABLE: 'ERR_SKEIN_RPC_UNAVAILABLE',
  RPC_DATA_LOSS: 'ERR_SKEIN_RPC_DATA_LOSS',
  RPC_UNAUTHENTICATED: 'ERR_SKEIN_RPC_UNAUTHENTICATED',
  /** Cluster client: the command was not applied and will not be (its session closed, or the cluster refused the session); it may be sent again. */
  CLUSTER_COMMAND_FAILED: 'ERR_SKEIN_CLUSTER_COMMAND_FAILED',
  /** Cluster client: whether the command was applied is not known (its session was lost before an answer, or its deadline passed); read the state to find out. */
  CLUSTER_COMMAND_UNKNOWN: 'ERR_SKEIN_CLUSTER_COMMAND_UNKNOWN',
} as const;

/** Every documented code: `switch (error.code)` over it is checked by the compiler. */
export type SkeinErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
