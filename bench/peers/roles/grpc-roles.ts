/**
 * gRPC (`@grpc/grpc-js`, HTTP/2 over loopback TCP, no TLS) with a service defined by hand whose
 * messages are raw bytes (identity serializers), so no protobuf encoding is measured: `Unary`
 * echoes one request, `Echo` is a bidi stream that echoes every message, and `Sink` is a bidi
 * stream the server only counts (one-way; HTTP/2 flow control is the back pressure).
 */
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import type { ThroughputWindow } from '../../transport/throughput-meter.js';
import { loadPeer, type GrpcClient, type GrpcDuplex, type GrpcMethodDefinition } from '../peer-modules.js';
import { phaseCommand } from '../phases.js';
import { PhaseMeter } from './phase-meter.js';
import { SENT, SENT_WAIT, SendLoop } from './send-loop.js';
import { RequestDriver } from './request-driver.js';

const identity = (bytes: Buffer): Buffer => bytes;
const CHANNEL_OPTIONS = { 'grpc.max_receive_message_length': 16 * 1024 * 1024, 'grpc.max_send_message_length': 16 * 1024 * 1024 };

function method(name: string, requestStream: boolean, responseStream: boolean): GrpcMethodDefinition {
  return {
    path: `/skein.bench.Bench/${name}`,
    requestStream,
    responseStream,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}

export const BENCH_SERVICE = { unary: method('Unary', false, false), echo: method('Echo', true, true), sink: method('Sink', true, true) } as const;

export interface GrpcServerConfig extends ChildConfig, ThroughputWindow {}

export interface GrpcClientConfig extends ChildConfig, ThroughputWindow {
  readonly port: number;
}

/** Serves all three methods on a free loopback port (reported as `port` when ready). */
export async function grpcServer(config: GrpcServerConfig, context: ChildContext): Promise<RoleHandle> {
  const grpc = loadPeer('@grpc/grpc-js');
  const server = new grpc.Server(CHANNEL_OPTIONS);
  const meter = new PhaseMeter(config, (metrics) => context.result(metrics));
  let unary = 0;
  let echoed = 0;
  server.addService(BENCH_SERVICE, {
    unary: (call: { request: Buffer }, callback: (error: Error | null, value: Buffer) => void) => {
      unary++;
      callback(null, call.request);
    },
    echo: (call: GrpcDuplex) => {
      call.on('data', (message) => {
        echoed++;
        call.write(message);
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
    sink: (call: GrpcDuplex) => {
      call.on('data', (message) => void meter.record(message, 0, message.length));
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error === null ? resolve(bound) : reject(error))),
  );
  context.ready({ port });
  return {
    stop: () => {
      meter.cancel();
      server.forceShutdown();
      return { unary, echoed, sunk: meter.messages };
    },
  };
}

function connect(config: GrpcClientConfig): GrpcClient {
  const grpc = loadPeer('@grpc/grpc-js');
  return new grpc.Client(`127.0.0.1:${config.port}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
}

/** One-way: writes to a `Sink` stream, waiting for 'drain' when the stream says so. */
export async function grpcStreamSender(config: GrpcClientConfig, context: ChildContext): Promise<RoleHandle> {
  const client = connect(config);
  const call = client.makeBidiStreamRequest(BENCH_SERVICE.sink.path, identity, identity);
  let stopping = false;
  call.on('error', (error) => {
    if (!stopping) context.fail(error);
  });
  const loop = new SendLoop({ send: (buffer, length) => (call.write(length === buffer.length ? buffer : buffer.subarray(0, length)) ? SENT : SENT_WAIT) }, { batch: 256 });
  call.on('drain', () => loop.wake());
  context.ready();
  return {
    command: (data) => loop.start(phaseCommand(data)),
    stop: () => {
      stopping = true;
      loop.stop();
      call.cancel?.();
      client.close();
      return { sent: loop.sent, drainWaits: loop.waits };
    },
  };
}

/** Unary calls, N in flight on one channel. */
export async function grpcUnaryRequester(config: GrpcClientConfig, context: ChildContext): Promise<RoleHandle> {
  const client = connect(config);
  const path = BENCH_SERVICE.unary.path;
  let failed = 0;
  const onResponse = (error: Error | null, value?: Buffer): void => {
    if (error !== null || value === undefined) failed++;
    else driver.onResponse(value, 0);
  };
  const driver = new RequestDriver({ send: (_slot, buffer) => void client.makeUnaryRequest(path, identity, identity, buffer, onResponse) }, context, config);
  context.ready();
  return {
    command: (data) => driver.start(phaseCommand(data)),
    stop: () => {
      driver.stop();
      client.close();
      return { completed: driver.completedTotal, stale: driver.stale, failed };
    },
  };
}

/** Requests as messages on one bidi `Echo` stream, N in flight. */
export async function grpcBidiRequester(config: GrpcClientConfig, context: ChildContext): Promise<RoleHandle> {
  const client = connect(config);
  const call = client.makeBidiStreamRequest(BENCH_SERVICE.echo.path, identity, identity);
  let stopping = false;
  call.on('error', (error) => {
    if (!stopping) context.fail(error);
  });
  const driver = new RequestDriver({ send: (_slot, buffer) => void call.write(buffer) }, context, config);
  call.on('data', (message) => driver.onResponse(message, 0));
  context.ready();
  return {
    command: (data) => driver.start(phaseCommand(data)),
    stop: () => {
      stopping = true;
      driver.stop();
      call.cancel?.();
      client.close();
      return { completed: driver.completedTotal, stale: driver.stale };
    },
  };
}
