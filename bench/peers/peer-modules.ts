/**
 * Loads the peer libraries from `bench/node_modules` (installed by `npm --prefix bench ci`), never
 * from the library's own dependencies, so the root build and `npm test` work without them. Each
 * library is typed here by the few members the benchmark uses; a missing one gives a clear reason.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `bench/package.json` of the source tree (this file runs from `dist/bench/peers/`). */
export const BENCH_PACKAGE_JSON = fileURLToPath(new URL('../../../bench/package.json', import.meta.url));
export const INSTALL_HINT = 'npm --prefix bench ci';

export type PeerLibrary = 'zeromq' | 'nats' | 'ioredis' | '@grpc/grpc-js' | 'sofa-rpc-node';
export const PEER_LIBRARIES: readonly PeerLibrary[] = ['zeromq', 'nats', 'ioredis', '@grpc/grpc-js', 'sofa-rpc-node'];

// ---- zeromq (v6) -------------------------------------------------------------------------------

export interface ZmqSocket {
  bind(address: string): Promise<void>;
  connect(address: string): void;
  send(message: Buffer | readonly Buffer[]): Promise<void>;
  receive(): Promise<Buffer[]>;
  close(): void;
  readonly lastEndpoint: string | null;
  readonly closed: boolean;
}

export interface ZmqSubscriber extends ZmqSocket {
  subscribe(...prefixes: string[]): void;
}

export interface ZmqSocketOptions {
  sendHighWaterMark?: number;
  receiveHighWaterMark?: number;
  linger?: number;
}

export interface ZmqModule {
  readonly Push: new (options?: ZmqSocketOptions) => ZmqSocket;
  readonly Pull: new (options?: ZmqSocketOptions) => ZmqSocket;
  readonly Dealer: new (options?: ZmqSocketOptions) => ZmqSocket;
  readonly Router: new (options?: ZmqSocketOptions) => ZmqSocket;
  readonly Publisher: new (options?: ZmqSocketOptions) => ZmqSocket;
  readonly Subscriber: new (options?: ZmqSocketOptions) => ZmqSubscriber;
}

// ---- nats (nats.js v2) -------------------------------------------------------------------------

export interface NatsMsg {
  readonly data: Uint8Array;
  respond(data?: Uint8Array): boolean;
}

export interface NatsSubscription {
  unsubscribe(): void;
}

export interface NatsConnection {
  publish(subject: string, data?: Uint8Array): void;
  subscribe(subject: string, options: { callback: (error: Error | null, msg: NatsMsg) => void }): NatsSubscription;
  request(subject: string, data: Uint8Array, options: { timeout: number }): Promise<NatsMsg>;
  flush(): Promise<void>;
  close(): Promise<void>;
  jetstream(): { publish(subject: string, data: Uint8Array): Promise<unknown> };
  jetstreamManager(): Promise<{
    streams: {
      add(config: { name: string; subjects: string[]; storage: 'file' | 'memory'; max_bytes?: number }): Promise<unknown>;
      delete(name: string): Promise<boolean>;
    };
  }>;
}

export interface NatsModule {
  connect(options: { servers: string; name?: string; timeout?: number }): Promise<NatsConnection>;
}

// ---- ioredis -----------------------------------------------------------------------------------

export interface RedisClient {
  publish(channel: string, message: Buffer): Promise<number>;
  subscribe(...channels: string[]): Promise<unknown>;
  on(event: 'messageBuffer', listener: (channel: Buffer, message: Buffer) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  disconnect(): void;
}

export interface IoRedisModule {
  readonly Redis: new (options: { host: string; port: number; maxRetriesPerRequest?: number; enableOfflineQueue?: boolean; connectTimeout?: number }) => RedisClient;
}

// ---- @grpc/grpc-js -----------------------------------------------------------------------------

export interface GrpcMethodDefinition {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly requestSerialize: (value: Buffer) => Buffer;
  readonly requestDeserialize: (bytes: Buffer) => Buffer;
  readonly responseSerialize: (value: Buffer) => Buffer;
  readonly responseDeserialize: (bytes: Buffer) => Buffer;
}

export interface GrpcDuplex {
  write(message: Buffer): boolean;
  end(): void;
  cancel?(): void;
  on(event: 'data', listener: (message: Buffer) => void): this;
  on(event: 'drain' | 'end', listener: () => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
}

export interface GrpcServer {
  addService(service: Record<string, GrpcMethodDefinition>, implementation: Record<string, (...args: never[]) => void>): void;
  bindAsync(address: string, credentials: unknown, callback: (error: Error | null, port: number) => void): void;
  forceShutdown(): void;
}

export interface GrpcClient {
  makeUnaryRequest(
    method: string,
    serialize: (value: Buffer) => Buffer,
    deserialize: (bytes: Buffer) => Buffer,
    argument: Buffer,
    callback: (error: Error | null, value?: Buffer) => void,
  ): unknown;
  makeBidiStreamRequest(method: string, serialize: (value: Buffer) => Buffer, deserialize: (bytes: Buffer) => Buffer): GrpcDuplex;
  close(): void;
}

export interface GrpcModule {
  readonly Server: new (options?: Record<string, number>) => GrpcServer;
  readonly ServerCredentials: { createInsecure(): unknown };
  readonly credentials: { createInsecure(): unknown };
  readonly Client: new (address: string, credentials: unknown, options?: Record<string, number>) => GrpcClient;
}

// ---- sofa-rpc-node (bolt + hessian) -------------------------------------------------------------

export interface SofaLogger {
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
  debug(...args: unknown[]): void;
}

export interface SofaRpcServer {
  addService(info: { interfaceName: string }, methods: Record<string, (...args: unknown[]) => Promise<unknown>>): void;
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface SofaConsumer {
  ready(): Promise<void>;
  invoke(method: string, args: unknown[], options?: { responseTimeout?: number }): Promise<unknown>;
}

export interface SofaRpcClient {
  createConsumer(options: { interfaceName: string; serverHost: string }): SofaConsumer;
  close(): Promise<void>;
}

export interface SofaModule {
  readonly server: { RpcServer: new (options: { logger: SofaLogger; port: number }) => SofaRpcServer };
  readonly client: { RpcClient: new (options: { logger: SofaLogger }) => SofaRpcClient };
}

// ---- loading -----------------------------------------------------------------------------------

interface PeerModules {
  zeromq: ZmqModule;
  nats: NatsModule;
  ioredis: IoRedisModule;
  '@grpc/grpc-js': GrpcModule;
  'sofa-rpc-node': SofaModule;
}

const requireFromBench = createRequire(BENCH_PACKAGE_JSON);

/** The library, loaded from bench/node_modules; throws with an install hint when it cannot be. */
export function loadPeer<K extends PeerLibrary>(name: K): PeerModules[K] {
  try {
    return requireFromBench(name) as PeerModules[K];
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new Error(`bench dependency '${name}' cannot be loaded (${reason}); run \`${INSTALL_HINT}\``);
  }
}

/** Why `name` cannot be used, or null when it loads. */
export function peerLibraryProblem(name: PeerLibrary): string | null {
  if (!existsSync(BENCH_PACKAGE_JSON)) return `${BENCH_PACKAGE_JSON} is missing`;
  try {
    loadPeer(name);
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
