/**
 * Every system the peers suite measures, per scenario: which child processes it starts (in order;
 * a child's config may use what the children before it reported when ready, such as a bound port),
 * which of them get the phase commands and which report the phase results, and what it needs
 * (a bench library, a server). To add a system, add an entry here.
 */
import type { Metrics } from '../support/child-messages.js';
import { freeUdpPort } from '../transport/transport-measurements.js';
import { freeTcpPort, freeUdpPortPair } from '../../src/cli/free-port.js';
import type { PeerLibrary } from './peer-modules.js';
import type { ServerName } from './peer-servers.js';
import { HEADER_LENGTH } from './phases.js';
import { BATCH_DATAGRAM_LENGTH_MAX, FRAME_HEADER_LENGTH } from './roles/dgram-roles.js';

export type ScenarioId = 'oneway' | 'rr' | 'fanout';
/** `skein`: the system under test; `peer`: what a user would pick instead; `baseline`: raw floors and ceilings. */
export type SystemKind = 'skein' | 'peer' | 'baseline';

export interface PhaseSpec {
  /** Key in the results (e.g. `32`, `x16`). */
  readonly key: string;
  readonly label: string;
  readonly length: number;
  readonly inFlight: number;
}

export interface ChildPlan {
  readonly name: string;
  readonly role: string;
  /** The role's config; `readies` holds what each earlier child reported when ready. */
  readonly config: (readies: readonly Metrics[]) => object;
  /** Receives the phase commands. */
  readonly driver?: boolean;
  /** Reports one result per phase. */
  readonly measures?: boolean;
}

/** What a system's plan may use: the servers the suite started and a place for files. */
export interface RunEnv {
  /** `127.0.0.1:<port>` of nats-server, when it runs. */
  readonly natsServer: string | null;
  readonly redisPort: number | null;
  /** A temporary directory for ipc sockets. */
  readonly tmpDir: string;
  /** Unique for each run of a system: names subjects, channels, streams and sockets. */
  readonly unique: string;
  readonly connectTimeoutMs: number;
}

export interface SystemSpec {
  readonly id: string;
  readonly scenario: ScenarioId;
  readonly label: string;
  readonly kind: SystemKind;
  /** What exactly is measured, where it differs from the obvious. */
  readonly note?: string;
  /** Kept out of the choice of the best peer (e.g. persistent publishing). */
  readonly excludedFromBest?: boolean;
  readonly libraries?: readonly PeerLibrary[];
  readonly servers?: readonly ServerName[];
  /** Phases the system can run (all when absent); the others are reported as not applicable. */
  readonly supports?: (phase: PhaseSpec) => boolean;
  plan(env: RunEnv): Promise<ChildPlan[]>;
}

export const FANOUT_SUBSCRIBERS = 4;
const STREAM_ID = 1001;
/** The largest UDP payload over IPv4. */
const UDP_PAYLOAD_MAX = 65_507;

function need<T>(value: T | null, what: string): T {
  if (value === null) throw new Error(`${what} is not running`);
  return value;
}

function readyValue(readies: readonly Metrics[], index: number, key: string): string | number {
  const value = readies[index]?.[key];
  if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`child ${index} reported no '${key}' when ready`);
  return value;
}

const times = <T>(count: number, make: (index: number) => T): T[] => Array.from({ length: count }, (_, i) => make(i));

// ---- one-way throughput ------------------------------------------------------------------------

async function skeinUdpOneWay(env: RunEnv, subscribers: number, mtu?: number): Promise<ChildPlan[]> {
  const channels: string[] = [];
  for (let i = 0; i < subscribers; i++) channels.push(`aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`);
  return skeinPlan(env, channels, channels, mtu);
}

/** One sending process with a publication per channel of `publish`, one receiving process per channel of `receive`. */
function skeinPlan(env: RunEnv, publish: readonly string[], receive: readonly string[], mtu?: number): ChildPlan[] {
  const send = { channels: publish, streamId: STREAM_ID, connectTimeoutMs: env.connectTimeoutMs, ...(mtu === undefined ? {} : { mtu }) };
  return [
    ...receive.map((channel, i) => ({ name: `sub${i}`, role: 'skein-udp-recv', config: () => ({ channel, streamId: STREAM_ID }), measures: true })),
    { name: 'pub', role: 'skein-udp-send', config: () => send, driver: true },
  ];
}

/**
 * One multicast publication read by `subscribers` processes on loopback (interface 127.0.0.1),
 * paced by the slowest (fc=min, waiting for all of them): one send per datagram.
 */
async function skeinMulticast(env: RunEnv, subscribers: number): Promise<ChildPlan[]> {
  const port = await freeUdpPort();
  const channel = `aeron:udp?endpoint=224.0.9.${1 + 2 * (port % 100)}:${port}|interface=127.0.0.1|fc=min,g:/${subscribers}`;
  return skeinPlan(env, [channel], times(subscribers, () => channel.replace(/\|fc=.*$/, '')));
}

/** One dynamic multi-destination publication sending to `subscribers` processes' own endpoints (fc=min). */
async function skeinMdc(env: RunEnv, subscribers: number): Promise<ChildPlan[]> {
  const control = `127.0.0.1:${await freeUdpPort()}`;
  const receive: string[] = [];
  for (let i = 0; i < subscribers; i++) receive.push(`aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}|control=${control}`);
  return skeinPlan(env, [`aeron:udp?control=${control}|control-mode=dynamic|fc=min,g:/${subscribers}`], receive);
}

async function dgramOneWay(subscribers: number, batch: boolean): Promise<ChildPlan[]> {
  const ports: number[] = [];
  for (let i = 0; i < subscribers; i++) ports.push(await freeUdpPort());
  return [
    ...ports.map((port, i) => ({ name: `recv${i}`, role: 'dgram-recv', config: () => ({ port, batch }), measures: true })),
    { name: 'send', role: 'dgram-send', config: () => ({ ports, batch }), driver: true },
  ];
}

function natsOneWay(env: RunEnv, subscribers: number): ChildPlan[] {
  const base = { server: need(env.natsServer, 'nats-server'), subject: `bench.${env.unique}`, creditSubject: `bench.${env.unique}.credit`, receivers: subscribers };
  return [
    ...times(subscribers, (i) => ({ name: `sub${i}`, role: 'nats-sub', config: () => ({ ...base, receiverIndex: i }), measures: true })),
    { name: 'pub', role: 'nats-pub', config: () => ({ ...base, receiverIndex: 0 }), driver: true },
  ];
}

function redisOneWay(env: RunEnv, subscribers: number): ChildPlan[] {
  const base = { port: need(env.redisPort, 'redis-server'), channel: `bench.${env.unique}`, returnChannel: `bench.${env.unique}.credit`, receivers: subscribers };
  return [
    ...times(subscribers, (i) => ({ name: `sub${i}`, role: 'redis-sub', config: () => ({ ...base, receiverIndex: i }), measures: true })),
    { name: 'pub', role: 'redis-pub', config: () => ({ ...base, receiverIndex: 0 }), driver: true },
  ];
}

function zmqAddress(env: RunEnv, transport: 'tcp' | 'ipc'): string {
  return transport === 'tcp' ? 'tcp://127.0.0.1:*' : `ipc://${env.tmpDir}/${env.unique}.sock`;
}

function zmqPushPull(transport: 'tcp' | 'ipc'): SystemSpec {
  return {
    id: `zmq-push-${transport}`,
    scenario: 'oneway',
    label: `ZeroMQ PUSH/PULL ${transport}`,
    kind: 'peer',
    libraries: ['zeromq'],
    note: 'back pressure: send high-water mark (1000 messages)',
    plan: async (env) => [
      { name: 'pull', role: 'zmq-pull', config: () => ({ bindAddress: zmqAddress(env, transport) }), measures: true },
      { name: 'push', role: 'zmq-push', config: (readies) => ({ endpoint: readyValue(readies, 0, 'endpoint') }), driver: true },
    ],
  };
}

const ONE_WAY: readonly SystemSpec[] = [
  {
    id: 'skein-udp',
    scenario: 'oneway',
    label: 'Skein UDP',
    kind: 'skein',
    note: 'publisher and subscriber processes, embedded drivers, default settings; messages over the MTU are fragmented and reassembled',
    plan: (env) => skeinUdpOneWay(env, 1),
  },
  {
    id: 'skein-udp-mtu8k',
    scenario: 'oneway',
    label: 'Skein UDP, channel mtu=8192',
    kind: 'skein',
    note: 'as Skein UDP, with the publication channel\'s mtu parameter at 8192 (a loopback interface carries such datagrams whole); the default, 1408, fits an Ethernet path',
    plan: (env) => skeinUdpOneWay(env, 1, 8192),
  },
  {
    id: 'skein-ipc',
    scenario: 'oneway',
    label: 'Skein IPC (one process)',
    kind: 'skein',
    note: 'publisher and subscriber in one process: Skein IPC runs between clients of one driver, and the driver is embedded',
    plan: async (env) => [{ name: 'ipc', role: 'skein-ipc', config: () => ({ streamId: STREAM_ID, subscribers: 1, connectTimeoutMs: env.connectTimeoutMs }), driver: true, measures: true }],
  },
  {
    id: 'dgram',
    scenario: 'oneway',
    label: 'node:dgram, one message per datagram',
    kind: 'baseline',
    note: 'no flow control: the receiver takes what it can and the rest is lost (loss %); 64 KiB is over the UDP payload limit',
    supports: (phase) => phase.length <= UDP_PAYLOAD_MAX,
    plan: () => dgramOneWay(1, false),
  },
  {
    id: 'dgram-batch',
    scenario: 'oneway',
    label: 'node:dgram, frames batched per datagram',
    kind: 'baseline',
    note: 'as Skein packs frames (32-byte header each); only sizes where two or more fit a datagram',
    supports: (phase) => 2 * (FRAME_HEADER_LENGTH + phase.length) <= BATCH_DATAGRAM_LENGTH_MAX,
    plan: () => dgramOneWay(1, true),
  },
  {
    id: 'worker-post',
    scenario: 'oneway',
    label: 'worker_threads postMessage (one process)',
    kind: 'baseline',
    note: 'a worker thread posts to the main thread of the same process; credit through a shared Int32Array',
    plan: async () => [{ name: 'post', role: 'worker-post', config: () => ({}), driver: true, measures: true }],
  },
  {
    id: 'sab-ring',
    scenario: 'oneway',
    label: 'SharedArrayBuffer ring (two threads)',
    kind: 'baseline',
    note: 'the in-process ceiling: two spinning worker threads and a lock-free ring',
    plan: async () => [{ name: 'ring', role: 'sab-ring', config: () => ({}), driver: true, measures: true }],
  },
  zmqPushPull('tcp'),
  zmqPushPull('ipc'),
  {
    id: 'nats',
    scenario: 'oneway',
    label: 'NATS core pub/sub',
    kind: 'peer',
    libraries: ['nats'],
    servers: ['nats-server'],
    note: 'through nats-server; the publisher keeps within a credit window (~4 MiB) the subscriber returns, as core NATS has no flow control',
    plan: async (env) => natsOneWay(env, 1),
  },
  {
    id: 'redis',
    scenario: 'oneway',
    label: 'Redis pub/sub',
    kind: 'peer',
    libraries: ['ioredis'],
    servers: ['redis-server'],
    note: 'through redis-server; credit window as for NATS',
    plan: async (env) => redisOneWay(env, 1),
  },
  {
    id: 'grpc-stream',
    scenario: 'oneway',
    label: 'gRPC bidi stream (client to server)',
    kind: 'peer',
    libraries: ['@grpc/grpc-js'],
    note: 'raw-bytes messages (no protobuf); HTTP/2 flow control',
    plan: async () => [
      { name: 'server', role: 'grpc-server', config: () => ({}), measures: true },
      { name: 'client', role: 'grpc-stream-send', config: (readies) => ({ port: readyValue(readies, 0, 'port') }), driver: true },
    ],
  },
];

// ---- request/response --------------------------------------------------------------------------

function zmqDealerRouter(transport: 'tcp' | 'ipc'): SystemSpec {
  return {
    id: `zmq-dealer-${transport}`,
    scenario: 'rr',
    label: `ZeroMQ DEALER/ROUTER ${transport}`,
    kind: 'peer',
    libraries: ['zeromq'],
    plan: async (env) => [
      { name: 'router', role: 'zmq-router-echo', config: () => ({ bindAddress: zmqAddress(env, transport) }) },
      { name: 'dealer', role: 'zmq-dealer-request', config: (readies) => ({ endpoint: readyValue(readies, 0, 'endpoint') }), driver: true, measures: true },
    ],
  };
}

function grpcRequester(id: string, label: string, role: string): SystemSpec {
  return {
    id,
    scenario: 'rr',
    label,
    kind: 'peer',
    libraries: ['@grpc/grpc-js'],
    note: 'raw-bytes messages (no protobuf), one channel',
    plan: async () => [
      { name: 'server', role: 'grpc-server', config: () => ({}) },
      { name: 'client', role, config: (readies) => ({ port: readyValue(readies, 0, 'port') }), driver: true, measures: true },
    ],
  };
}

const REQUEST_RESPONSE: readonly SystemSpec[] = [
  {
    id: 'skein-rr',
    scenario: 'rr',
    label: 'Skein request/response (response channels)',
    kind: 'skein',
    note: 'ResponseServer and ResponseClient (src/response) over UDP response channels, correlation ids in the reserved value; server and client processes',
    plan: async (env) => {
      const ports = { requestPort: await freeUdpPort(), controlPort: await freeUdpPort(), connectTimeoutMs: env.connectTimeoutMs };
      return [
        { name: 'server', role: 'skein-rr-server', config: () => ports },
        { name: 'request', role: 'skein-rr-request', config: () => ports, driver: true, measures: true },
      ];
    },
  },
  {
    id: 'skein-rpc',
    scenario: 'rr',
    label: 'Skein RPC unary (src/rpc)',
    kind: 'skein',
    note: 'RpcProvider and RpcConsumer (static registry, default balancer): a unary method echoing raw bytes; provider and consumer processes; the counterpart of gRPC unary',
    plan: async (env) => {
      const config = { port: await freeUdpPortPair(), connectTimeoutMs: env.connectTimeoutMs };
      return [
        { name: 'provider', role: 'skein-rpc-server', config: () => config },
        { name: 'consumer', role: 'skein-rpc-request', config: () => config, driver: true, measures: true },
      ];
    },
  },
  ...([0, 1] as const).map(
    (fileSyncLevel): SystemSpec => ({
      id: fileSyncLevel === 0 ? 'skein-archive' : 'skein-archive-sync',
      scenario: 'rr',
      label: fileSyncLevel === 0 ? 'Skein archive: publish, recorded (sync level 0)' : 'Skein archive: publish, recorded and fdatasync\'ed (sync level 1)',
      kind: 'skein',
      excludedFromBest: true,
      note:
        'persistence, the counterpart of JetStream: a request is a message on a UDP stream that an archive process records; its response the RecordingProgress event whose position passes it' +
        (fileSyncLevel === 0 ? ' (in the page cache, as a PubAck with nats-server\'s default store)' : ' (each write fdatasync\'ed first: stronger than the PubAck)'),
      plan: async (env) => {
        const ports = {
          controlPort: await freeUdpPort(), dataPort: await freeUdpPort(), eventsPort: await freeUdpPort(), streamId: STREAM_ID, fileSyncLevel, tmpDir: env.tmpDir, connectTimeoutMs: env.connectTimeoutMs,
        };
        return [
          { name: 'archive', role: 'skein-archive-server', config: () => ports },
          { name: 'publish', role: 'skein-archive-publish', config: () => ports, driver: true, measures: true },
        ];
      },
    }),
  ),
  {
    id: 'skein-udp',
    scenario: 'rr',
    label: 'Skein UDP (ping and pong streams)',
    kind: 'skein',
    note: 'two plain streams (ping and pong), requester and echo processes; N messages in flight',
    plan: async (env) => {
      const pingPort = await freeUdpPort();
      const pongPort = await freeUdpPort();
      const streams = { pingPort, pongPort, streamId: STREAM_ID, connectTimeoutMs: env.connectTimeoutMs };
      return [
        { name: 'echo', role: 'skein-udp-echo', config: () => streams },
        { name: 'request', role: 'skein-udp-request', config: () => streams, driver: true, measures: true },
      ];
    },
  },
  {
    id: 'skein-ipc',
    scenario: 'rr',
    label: 'Skein IPC (one process)',
    kind: 'skein',
    note: 'ping and pong IPC streams with requester and echo in one process',
    plan: async (env) => [{ name: 'ipc', role: 'skein-ipc-request', config: () => ({ streamId: STREAM_ID, subscribers: 1, connectTimeoutMs: env.connectTimeoutMs }), driver: true, measures: true }],
  },
  {
    id: 'dgram',
    scenario: 'rr',
    label: 'node:dgram echo',
    kind: 'baseline',
    note: 'one datagram each way; a lost datagram is not retried (abandoned)',
    plan: async () => {
      const port = await freeUdpPort();
      return [
        { name: 'echo', role: 'dgram-echo', config: () => ({ port }) },
        { name: 'request', role: 'dgram-request', config: () => ({ port }), driver: true, measures: true },
      ];
    },
  },
  {
    id: 'worker-post',
    scenario: 'rr',
    label: 'worker_threads postMessage echo (one process)',
    kind: 'baseline',
    plan: async () => [{ name: 'post', role: 'worker-post-request', config: () => ({}), driver: true, measures: true }],
  },
  zmqDealerRouter('tcp'),
  zmqDealerRouter('ipc'),
  {
    id: 'nats-request',
    scenario: 'rr',
    label: 'NATS request/reply',
    kind: 'peer',
    libraries: ['nats'],
    servers: ['nats-server'],
    plan: async (env) => {
      const base = { server: need(env.natsServer, 'nats-server'), subject: `bench.${env.unique}`, creditSubject: '', receivers: 1, receiverIndex: 0 };
      return [
        { name: 'reply', role: 'nats-reply', config: () => base },
        { name: 'request', role: 'nats-request', config: () => base, driver: true, measures: true },
      ];
    },
  },
  {
    id: 'nats-jetstream',
    scenario: 'rr',
    label: 'NATS JetStream publish (file store)',
    kind: 'peer',
    excludedFromBest: true,
    libraries: ['nats'],
    servers: ['nats-server'],
    note: 'persistence peer: a request is a publish, its response the PubAck after the file store has it (nats-server default: no fsync per message); Skein\'s counterpart is skein-archive',
    plan: async (env) => {
      const config = { server: need(env.natsServer, 'nats-server'), subject: `bench.js.${env.unique}`, stream: `BENCH_${env.unique.replace(/[^A-Za-z0-9]/g, '_')}`, creditSubject: '', receivers: 1, receiverIndex: 0 };
      return [{ name: 'publish', role: 'nats-jetstream', config: () => config, driver: true, measures: true }];
    },
  },
  {
    id: 'redis',
    scenario: 'rr',
    label: 'Redis pub/sub round trip',
    kind: 'peer',
    libraries: ['ioredis'],
    servers: ['redis-server'],
    note: 'request on one channel, echoed on another by a subscriber process',
    plan: async (env) => {
      const base = { port: need(env.redisPort, 'redis-server'), channel: `bench.${env.unique}.ping`, returnChannel: `bench.${env.unique}.pong`, receivers: 1, receiverIndex: 0 };
      return [
        { name: 'echo', role: 'redis-echo', config: () => base },
        { name: 'request', role: 'redis-request', config: () => base, driver: true, measures: true },
      ];
    },
  },
  grpcRequester('grpc-unary', 'gRPC unary', 'grpc-unary-request'),
  {
    id: 'sofa-rpc',
    scenario: 'rr',
    label: 'sofa-rpc-node (bolt + hessian)',
    kind: 'peer',
    libraries: ['sofa-rpc-node'],
    note: 'sofa-rpc-node 2.x, direct connection to the provider (no registry), an echo(string) method; the request bytes travel as a latin1 string',
    plan: async () => {
      const config = { port: await freeTcpPort() };
      return [
        { name: 'provider', role: 'sofa-server', config: () => config },
        { name: 'consumer', role: 'sofa-request', config: () => config, driver: true, measures: true },
      ];
    },
  },
  grpcRequester('grpc-bidi', 'gRPC bidi stream echo', 'grpc-bidi-request'),
];

// ---- fan-out -----------------------------------------------------------------------------------

const FAN_OUT: readonly SystemSpec[] = [
  {
    id: 'skein-udp',
    scenario: 'fanout',
    label: 'Skein UDP (4 publications)',
    kind: 'skein',
    note: 'one process offers every message to 4 unicast publications, one per subscriber process',
    plan: (env) => skeinUdpOneWay(env, FANOUT_SUBSCRIBERS),
  },
  {
    id: 'skein-multicast',
    scenario: 'fanout',
    label: 'Skein UDP multicast (1 publication)',
    kind: 'skein',
    note: 'one multicast publication on loopback (interface 127.0.0.1), fc=min over the 4 subscriber processes: one send per datagram',
    plan: (env) => skeinMulticast(env, FANOUT_SUBSCRIBERS),
  },
  {
    id: 'skein-mdc',
    scenario: 'fanout',
    label: 'Skein UDP MDC (1 publication, 4 destinations)',
    kind: 'skein',
    note: 'one dynamic multi-destination publication, fc=min: the driver sends each datagram to the 4 subscriber processes',
    plan: (env) => skeinMdc(env, FANOUT_SUBSCRIBERS),
  },
  {
    id: 'skein-ipc',
    scenario: 'fanout',
    label: 'Skein IPC (1 publication, 4 subscriptions, one process)',
    kind: 'skein',
    note: 'one IPC publication read by 4 subscriptions in the same process',
    plan: async (env) => [{ name: 'ipc', role: 'skein-ipc', config: () => ({ streamId: STREAM_ID, subscribers: FANOUT_SUBSCRIBERS, connectTimeoutMs: env.connectTimeoutMs }), driver: true, measures: true }],
  },
  {
    id: 'dgram',
    scenario: 'fanout',
    label: 'node:dgram, 4 sends per message',
    kind: 'baseline',
    note: 'no flow control (loss %)',
    plan: () => dgramOneWay(FANOUT_SUBSCRIBERS, false),
  },
  {
    id: 'zmq-pub-tcp',
    scenario: 'fanout',
    label: 'ZeroMQ PUB/SUB tcp',
    kind: 'peer',
    libraries: ['zeromq'],
    note: 'PUB drops what a subscriber over its high-water mark cannot take (loss %)',
    plan: async (env) => [
      { name: 'pub', role: 'zmq-pub', config: () => ({ bindAddress: zmqAddress(env, 'tcp') }), driver: true },
      ...times(FANOUT_SUBSCRIBERS, (i) => ({ name: `sub${i}`, role: 'zmq-sub', config: (readies: readonly Metrics[]) => ({ endpoint: readyValue(readies, 0, 'endpoint') }), measures: true })),
    ],
  },
  {
    id: 'nats',
    scenario: 'fanout',
    label: 'NATS core pub/sub',
    kind: 'peer',
    libraries: ['nats'],
    servers: ['nats-server'],
    note: 'credit window from the slowest of the 4 subscribers',
    plan: async (env) => natsOneWay(env, FANOUT_SUBSCRIBERS),
  },
  {
    id: 'redis',
    scenario: 'fanout',
    label: 'Redis pub/sub',
    kind: 'peer',
    libraries: ['ioredis'],
    servers: ['redis-server'],
    note: 'credit window from the slowest of the 4 subscribers',
    plan: async (env) => redisOneWay(env, FANOUT_SUBSCRIBERS),
  },
];

export const SYSTEMS: readonly SystemSpec[] = [...ONE_WAY, ...REQUEST_RESPONSE, ...FAN_OUT];

export interface ScenarioSpec {
  readonly id: ScenarioId;
  readonly title: string;
  readonly phases: readonly PhaseSpec[];
}

const sizeLabel = (length: number): string => (length >= 1024 ? `${length / 1024} KiB` : `${length} B`);
const sizePhase = (length: number): PhaseSpec => ({ key: String(length), label: sizeLabel(length), length, inFlight: 1 });
const inFlightPhase = (inFlight: number): PhaseSpec => ({ key: `x${inFlight}`, label: `${inFlight} in flight`, length: 32, inFlight });

export const SCENARIOS: readonly ScenarioSpec[] = [
  { id: 'oneway', title: 'One-way throughput', phases: [32, 256, 1024, 65536].map(sizePhase) },
  { id: 'rr', title: 'Request/response, 32 B', phases: [1, 16, 64].map(inFlightPhase) },
  { id: 'fanout', title: `Fan-out to ${FANOUT_SUBSCRIBERS} subscribers`, phases: [32, 1024].map(sizePhase) },
];

export function phasesOf(scenario: ScenarioId): readonly PhaseSpec[] {
  return SCENARIOS.find((s) => s.id === scenario)!.phases.filter((p) => p.length >= HEADER_LENGTH);
}
