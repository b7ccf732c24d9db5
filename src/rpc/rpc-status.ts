/**
 * RPC statuses, numbered as gRPC numbers them, so a status read off the wire or a log means the
 * same thing to anyone who knows gRPC. Every failed call rejects with an {@link RpcError}: a
 * SkeinError whose code is `ERR_SKEIN_RPC_<STATUS>` and whose message names the service, method,
 * provider, call id, attempt and deadline where they are known.
 */
import { ErrorCode, SkeinError, type SkeinErrorCode } from '../util/errors.js';

export const RpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type RpcStatusName = keyof typeof RpcStatus;
export type RpcStatusCode = (typeof RpcStatus)[RpcStatusName];

const NAMES = Object.keys(RpcStatus) as RpcStatusName[];

export function statusName(code: number): RpcStatusName {
  return NAMES[code] ?? 'UNKNOWN';
}

const ERROR_CODES: Readonly<Record<Exclude<RpcStatusName, 'OK'>, SkeinErrorCode>> = {
  CANCELLED: ErrorCode.RPC_CANCELLED,
  UNKNOWN: ErrorCode.RPC_UNKNOWN,
  INVALID_ARGUMENT: ErrorCode.RPC_INVALID_ARGUMENT,
  DEADLINE_EXCEEDED: ErrorCode.RPC_DEADLINE_EXCEEDED,
  NOT_FOUND: ErrorCode.RPC_NOT_FOUND,
  ALREADY_EXISTS: ErrorCode.RPC_ALREADY_EXISTS,
  PERMISSION_DENIED: ErrorCode.RPC_PERMISSION_DENIED,
  RESOURCE_EXHAUSTED: ErrorCode.RPC_RESOURCE_EXHAUSTED,
  FAILED_PRECONDITION: ErrorCode.RPC_FAILED_PRECONDITION,
  ABORTED: ErrorCode.RPC_ABORTED,
  OUT_OF_RANGE: ErrorCode.RPC_OUT_OF_RANGE,
  UNIMPLEMENTED: ErrorCode.RPC_UNIMPLEMENTED,
  INTERNAL: ErrorCode.RPC_INTERNAL,
  UNAVAILABLE: ErrorCode.RPC_UNAVAILABLE,
  DATA_LOSS: ErrorCode.RPC_DATA_LOSS,
  UNAUTHENTICATED: ErrorCode.RPC_UNAUTHENTICATED,
};

/** Where a call failed: everything an operator needs to find it. */
export interface RpcErrorContext {
  readonly service?: string;
  readonly method?: string;
  readonly provider?: string;
  readonly callId?: number;
  readonly attempt?: number;
  readonly deadlineMs?: number;
  readonly elapsedMs?: number;
  readonly state?: string;
  readonly cause?: unknown;
  /** Trailing metadata the provider sent with the status. */
  readonly metadata?: Readonly<Record<string, string>>;
}

export class RpcError extends SkeinError {
  override readonly name: string = 'RpcError';
  readonly status: Exclude<RpcStatusName, 'OK'>;
  readonly statusCode: number;
  readonly context: RpcErrorContext;

  constructor(status: Exclude<RpcStatusName, 'OK'>, message: string, context: RpcErrorContext = {}) {
    super(ERROR_CODES[status], `${status}: ${message}${describeContext(context)}`, {
      ...(context.cause === undefined ? {} : { cause: context.cause }),
      ...(context.deadlineMs === undefined ? {} : { timeoutMs: context.deadlineMs }),
      ...(context.state === undefined ? {} : { state: context.state }),
    });
    this.status = status;
    this.statusCode = RpcStatus[status];
    this.context = context;
  }

  /** An error from a status read off the wire. */
  static fromStatus(code: number, message: string, context: RpcErrorContext = {}): RpcError {
    const name = statusName(code);
    return new RpcError(name === 'OK' ? 'UNKNOWN' : name, message, context);
  }
}

function describeContext(c: RpcErrorContext): string {
  const parts: string[] = [];
  if (c.service !== undefined) parts.push(`service=${c.service}`);
  if (c.method !== undefined) parts.push(`method=${c.method}`);
  if (c.provider !== undefined) parts.push(`provider=${c.provider}`);
  if (c.callId !== undefined) parts.push(`callId=${c.callId}`);
  if (c.attempt !== undefined) parts.push(`attempt=${c.attempt}`);
  if (c.elapsedMs !== undefined) parts.push(`elapsedMs=${Math.round(c.elapsedMs)}`);
  return parts.length === 0 ? '' : ` (${parts.join(' ')})`;
}

/** The status an error carries: its own for an RpcError, else UNKNOWN. */
export function statusOf(error: unknown): RpcStatusName {
  return error instanceof RpcError ? error.status : 'UNKNOWN';
}
