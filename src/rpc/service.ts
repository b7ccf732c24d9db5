/**
 * Services declared once, in TypeScript, for both ends: a provider implements the declaration's
 * methods and a consumer's stub has one typed function per method, so a change to a request or
 * response type breaks the build on both sides.
 *
 * ```ts
 * const Kv = defineService('kv', {
 *   get: unary<{ key: string }, { value: string | null }>({ idempotent: true }),
 *   put: unary<{ key: string; value: string }, { ok: true }>(),
 *   watch: serverStream<{ prefix: string }, { key: string; value: string }>(),
 *   log: oneway<{ line: string }>(),
 * });
 * ```
 */
import { ErrorCode, SkeinError } from '../util/errors.js';
import { msgpackCodec, type Codec } from './codec.js';
import type { RpcStatusName } from './rpc-status.js';

export type MethodKind = 'unary' | 'oneway' | 'serverStream';

/** Retries of an idempotent method (docs/rpc.md, "Retries"). */
export interface RetryPolicy {
  /** Attempts in all, the first included; 1..5. @default 3 */
  readonly maxAttempts?: number;
  /** @default 50 */
  readonly initialBackoffMs?: number;
  /** @default 1000 */
  readonly maxBackoffMs?: number;
  /** @default 2 */
  readonly backoffMultiplier?: number;
  /** Statuses worth another attempt. @default ['UNAVAILABLE'] */
  readonly retryableStatuses?: readonly RpcStatusName[];
}

export interface MethodOptions<Req, Res> {
  /** Safe to run twice: only such methods are retried after they may have reached a provider. */
  readonly idempotent?: boolean;
  readonly retry?: RetryPolicy;
  /** @default msgpack */
  readonly requestCodec?: Codec<Req>;
  /** @default msgpack */
  readonly responseCodec?: Codec<Res>;
  /** The deadline of a call that sets none. @default 3000 */
  readonly defaultTimeoutMs?: number;
  /** Calls of this method a provider runs at once; more are refused with RESOURCE_EXHAUSTED. @default 1024 */
  readonly maxConcurrent?: number;
}

export interface MethodDescriptor<Req, Res, K extends MethodKind = MethodKind> {
  readonly kind: K;
  readonly idempotent: boolean;
  readonly retry: Required<RetryPolicy>;
  readonly requestCodec: Codec<Req>;
  readonly responseCodec: Codec<Res>;
  readonly defaultTimeoutMs: number;
  readonly maxConcurrent: number;
  /** Phantom fields that carry the types. */
  readonly _req?: Req;
  readonly _res?: Res;
}

export type AnyMethod = MethodDescriptor<any, any, MethodKind>; // eslint-disable-line @typescript-eslint/no-explicit-any
export type MethodMap = Readonly<Record<string, AnyMethod>>;

export interface ServiceDescriptor<M extends MethodMap = MethodMap> {
  readonly name: string;
  readonly methods: M;
}

const DEFAULT_RETRY: Required<RetryPolicy> = Object.freeze({ maxAttempts: 3, initialBackoffMs: 50, maxBackoffMs: 1000, backoffMultiplier: 2, retryableStatuses: Object.freeze(['UNAVAILABLE'] as RpcStatusName[]) });

function method<Req, Res, K extends MethodKind>(kind: K, options: MethodOptions<Req, Res>): MethodDescriptor<Req, Res, K> {
  const retry = { ...DEFAULT_RETRY, ...(options.retry ?? {}) };
  const problems: string[] = [];
  if (!(Number.isInteger(retry.maxAttempts) && retry.maxAttempts >= 1 && retry.maxAttempts <= 5)) problems.push(`retry.maxAttempts=${retry.maxAttempts} (1..5)`);
  if (!(retry.initialBackoffMs >= 0)) problems.push(`retry.initialBackoffMs=${retry.initialBackoffMs} (>= 0)`);
  if (!(retry.maxBackoffMs >= retry.initialBackoffMs)) problems.push(`retry.maxBackoffMs=${retry.maxBackoffMs} (>= initialBackoffMs)`);
  if (!(retry.backoffMultiplier >= 1)) problems.push(`retry.backoffMultiplier=${retry.backoffMultiplier} (>= 1)`);
  const timeout = options.defaultTimeoutMs ?? 3000;
  if (!(timeout > 0 && timeout <= 2 ** 31)) problems.push(`defaultTimeoutMs=${timeout} (> 0)`);
  const maxConcurrent = options.maxConcurrent ?? 1024;
  if (!(Number.isInteger(maxConcurrent) && maxConcurrent >= 1)) problems.push(`maxConcurrent=${maxConcurrent} (an integer >= 1)`);
  if (options.retry !== undefined && options.idempotent !== true && retry.maxAttempts > 1) problems.push('a retry policy needs idempotent: true');
  if (kind === 'oneway' && options.retry !== undefined && retry.maxAttempts > 1) problems.push('oneway methods are never retried');
  if (problems.length > 0) throw new SkeinError(ErrorCode.CONFIG_INVALID, `invalid ${kind} method: ${problems.join('; ')}`);
  return Object.freeze({
    kind,
    idempotent: options.idempotent === true,
    retry: Object.freeze({ ...retry, maxAttempts: options.idempotent === true ? retry.maxAttempts : 1, retryableStatuses: Object.freeze([...retry.retryableStatuses]) }),
    requestCodec: options.requestCodec ?? (msgpackCodec() as Codec<Req>),
    responseCodec: options.responseCodec ?? (msgpackCodec() as Codec<Res>),
    defaultTimeoutMs: timeout,
    maxConcurrent,
  });
}

/** One request, one response. */
export function unary<Req, Res>(options: MethodOptions<Req, Res> = {}): MethodDescriptor<Req, Res, 'unary'> {
  return method('unary', options);
}

/** One request, no response: done when the request is on its way; never retried. */
export function oneway<Req>(options: MethodOptions<Req, void> = {}): MethodDescriptor<Req, void, 'oneway'> {
  return method('oneway', options);
}

/** One request, any number of responses, then a status. */
export function serverStream<Req, Res>(options: MethodOptions<Req, Res> = {}): MethodDescriptor<Req, Res, 'serverStream'> {
  return method('serverStream', options);
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

export function defineService<M extends MethodMap>(name: string, methods: M): ServiceDescriptor<M> {
  if (!NAME.test(name)) throw new SkeinError(ErrorCode.CONFIG_INVALID, `service name '${name}' is invalid; expected letters, digits, '_', '.', '-' (at most 128, not starting with a digit)`);
  for (const key of Object.keys(methods)) {
    if (!NAME.test(key)) throw new SkeinError(ErrorCode.CONFIG_INVALID, `service ${name}: method name '${key}' is invalid`);
  }
  return Object.freeze({ name, methods: Object.freeze({ ...methods }) });
}

type ReqOf<D> = D extends MethodDescriptor<infer Req, any, any> ? Req : never; // eslint-disable-line @typescript-eslint/no-explicit-any
type ResOf<D> = D extends MethodDescriptor<any, infer Res, any> ? Res : never; // eslint-disable-line @typescript-eslint/no-explicit-any

/** What a handler gets beside the request. */
export interface CallContext {
  readonly service: string;
  readonly method: string;
  /** Aborted when the call's deadline passes, the consumer cancels, or the provider shuts down past its drain deadline. */
  readonly signal: AbortSignal;
  /** When the call must be done, on the client's nanosecond clock; Infinity without a deadline. */
  readonly deadlineNs: number;
  /** Milliseconds left before the deadline (Infinity without one); pass it on to nested calls. */
  remainingMs(): number;
  readonly metadata: Readonly<Record<string, string>>;
  /** The attempt this is (1 first). */
  readonly attempt: number;
  /** Trailing metadata to send with the status. */
  setTrailer(key: string, value: string): void;
}

/** A server stream's sink: `send` resolves when the consumer has credit for the message. */
export interface StreamSink<Res> {
  send(value: Res): Promise<void>;
}

export type HandlerOf<D> = D extends MethodDescriptor<infer Req, infer Res, infer K>
  ? K extends 'unary'
    ? (request: Req, context: CallContext) => Promise<Res> | Res
    : K extends 'oneway'
      ? (request: Req, context: CallContext) => Promise<void> | void
      : (request: Req, sink: StreamSink<Res>, context: CallContext) => Promise<void> | void
  : never;

/** The implementation a provider gives for a service: one handler per method. */
export type ServiceImplementation<M extends MethodMap> = { readonly [K in keyof M]: HandlerOf<M[K]> };

export interface CallOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly metadata?: Readonly<Record<string, string>>;
  /** Consistent hashing key (the request's own bytes are not used). */
  readonly key?: string;
}

export type StubMethod<D> = D extends MethodDescriptor<infer Req, infer Res, infer K>
  ? K extends 'unary'
    ? (request: Req, options?: CallOptions) => Promise<Res>
    : K extends 'oneway'
      ? (request: Req, options?: CallOptions) => Promise<void>
      : (request: Req, options?: CallOptions) => AsyncIterable<Res>
  : never;

/** A consumer's typed stub: one function per method. */
export type ServiceStub<M extends MethodMap> = { readonly [K in keyof M]: StubMethod<M[K]> };

export type { ReqOf, ResOf };
