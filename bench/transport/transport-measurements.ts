/**
 * The measurements of the transport suite: which child processes each one starts, with what
 * configuration, and which numbers it keeps. Every child is stopped (and killed by pid when it
 * does not exit) before a measurement returns, whether it succeeded or not.
 */
import { createSocket } from 'node:dgram';
import type { ChildGroup, ChildHandle } from '../support/child-group.js';
import type { Metrics } from '../support/child-messages.js';

export type MeasurementId =
  | 'skein-udp-32'
  | 'skein-udp-1k'
  | 'skein-udp-32-mtu8k'
  | 'skein-udp-1k-mtu8k'
  | 'dgram-batch-64x21'
  | 'dgram-single-32'
  | 'skein-ipc-32'
  | 'skein-ipc-threads-32'
  | 'sab-ring-32'
  | 'skein-ping-32'
  | 'dgram-ping-32'
  | 'paired-ping-32';

export interface Timing {
  readonly warmupMs: number;
  readonly measureMs: number;
  readonly pingWarmupMs: number;
  readonly pingMeasureMs: number;
}

export interface MeasurementContext {
  readonly children: ChildGroup;
  /** Pin the two processes of a pair to CPUs 1 and 0. */
  readonly pin: boolean;
  readonly timing: Timing;
  readonly repetition: number;
}

export interface Measurement {
  readonly id: MeasurementId;
  readonly label: string;
  readonly system: 'skein' | 'baseline';
  /** `paired-latency`: Skein and raw dgram round trips from the same processes, metrics prefixed `skein.` and `raw.`. */
  readonly kind: 'throughput' | 'latency' | 'paired-latency';
  /** What one message is for this measurement (frames for the batched baseline). */
  readonly unit: 'msgs' | 'frames' | 'round trips';
  run(context: MeasurementContext): Promise<Metrics>;
}

const STARTUP_TIMEOUT_MS = 15_000;
const RESULT_SLACK_MS = 15_000;
const STOP_GRACE_MS = 3_000;
const STREAM_ID = 1001;
const PONG_STREAM_ID = 1002;
/** SO_RCVBUF of the baseline receiver: Skein's default socketRcvbufLength. */
const RCVBUF_LENGTH = 128 * 1024;
/** Aeron-sized frames for 32-byte messages: 32-byte header + 32-byte payload. */
const BATCH_FRAME_PAYLOAD_LENGTH = 32;
/** 21 frames of 64 bytes = 1344 bytes, the most that fit in Skein's default 1408-byte MTU datagram. */
const BATCH_FRAMES_PER_DATAGRAM = 21;
/** How long the paired measurement stays with one transport before switching to the other. */
const PAIRED_SLICE_MS = 250;

/** A UDP port on 127.0.0.1 that was free a moment ago. */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', (error) => {
      socket.close();
      reject(error);
    });
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

function lifetimeMs(timing: Timing): number {
  return STARTUP_TIMEOUT_MS * 2 + Math.max(timing.warmupMs + timing.measureMs, timing.pingWarmupMs + timing.pingMeasureMs) + RESULT_SLACK_MS + STOP_GRACE_MS;
}

export interface ChildSpec {
  readonly name: string;
  readonly role: string;
  readonly config: object;
}

/**
 * Starts `first` and waits until it is ready, then `second` (when given); waits for the `result`
 * of the child at `resultIndex`; stops both and merges the result with every child's final numbers.
 */
export async function runChildren(context: MeasurementContext, specs: readonly ChildSpec[], resultIndex: number, resultTimeoutMs: number): Promise<Metrics> {
  const started: ChildHandle[] = [];
  const lifetime = lifetimeMs(context.timing);
  try {
    const readies: Metrics[] = [];
    for (const [index, spec] of specs.entries()) {
      // The receiving side of a pair on CPU 1, the sending side on CPU 0.
      const cpu = context.pin && specs.length === 2 ? 1 - index : undefined;
      const child = context.children.start(`${spec.name}-rep${context.repetition}`, spec.role, { ...spec.config, lifetimeMs: lifetime }, cpu);
      started.push(child);
      readies.push(await Promise.race([child.next('ready', STARTUP_TIMEOUT_MS), ...started.map((c) => c.failure)]));
    }
    const result = await Promise.race([started[resultIndex]!.next('result', resultTimeoutMs), ...started.map((child) => child.failure)]);
    const finals = await context.children.stop(started, STOP_GRACE_MS);
    const merged: Metrics = {};
    for (const ready of readies) Object.assign(merged, ready);
    for (const final of finals) if (final !== null) Object.assign(merged, final);
    return Object.assign(merged, result);
  } finally {
    await context.children.stop(started, STOP_GRACE_MS);
  }
}

function throughputTimeoutMs(timing: Timing): number {
  return timing.warmupMs + timing.measureMs + RESULT_SLACK_MS;
}

/** Skein UDP throughput; `mtu` sets the publication channel's `mtu` parameter (default 1408). */
function skeinUdp(id: MeasurementId, label: string, messageLength: number, mtu?: number): Measurement {
  return {
    id,
    label,
    system: 'skein',
    kind: 'throughput',
    unit: 'msgs',
    run: async (context) => {
      const port = await freeUdpPort();
      const { warmupMs, measureMs } = context.timing;
      return runChildren(
        context,
        [
          { name: `${id}-sub`, role: 'skein-udp-sub', config: { port, streamId: STREAM_ID, fragmentLimit: 256, warmupMs, measureMs } },
          {
            name: `${id}-pub`,
            role: 'skein-udp-pub',
            config: { port, streamId: STREAM_ID, messageLength, batchMessagesMax: 1024, connectTimeoutMs: STARTUP_TIMEOUT_MS, ...(mtu === undefined ? {} : { mtu }) },
          },
        ],
        0,
        throughputTimeoutMs(context.timing),
      );
    },
  };
}

function dgramThroughput(id: MeasurementId, label: string, mode: 'single' | 'batch'): Measurement {
  return {
    id,
    label,
    system: 'baseline',
    kind: 'throughput',
    unit: mode === 'single' ? 'msgs' : 'frames',
    run: async (context) => {
      const port = await freeUdpPort();
      const { warmupMs, measureMs } = context.timing;
      return runChildren(
        context,
        [
          { name: `${id}-recv`, role: 'dgram-recv', config: { port, mode, rcvbufLength: RCVBUF_LENGTH, warmupMs, measureMs } },
          {
            name: `${id}-send`,
            role: 'dgram-send',
            config: {
              port,
              mode,
              messageLength: BATCH_FRAME_PAYLOAD_LENGTH,
              framesPerDatagram: BATCH_FRAMES_PER_DATAGRAM,
              datagramsPerTurn: mode === 'single' ? 256 : 64,
              connected: false,
            },
          },
        ],
        0,
        throughputTimeoutMs(context.timing),
      );
    },
  };
}

/** An IPC throughput measurement of 32-byte messages: one child running `role`. */
function skeinIpcMeasurement(id: MeasurementId, label: string, role: string, fragmentLimit: number): Measurement {
  return {
    id,
    label,
    system: 'skein',
    kind: 'throughput',
    unit: 'msgs',
    run: (context) => {
      const { warmupMs, measureMs } = context.timing;
      const config = {
        streamId: STREAM_ID,
        messageLength: 32,
        batchMessagesMax: 4096,
        fragmentLimit,
        pollsPerTurnMax: 16,
        connectTimeoutMs: STARTUP_TIMEOUT_MS,
        warmupMs,
        measureMs,
      };
      return runChildren(context, [{ name: id, role, config }], 0, throughputTimeoutMs(context.timing));
    },
  };
}

const skeinIpc = skeinIpcMeasurement('skein-ipc-32', 'Skein IPC 32 B (one process)', 'skein-ipc', 1024);
const skeinIpcThreads = skeinIpcMeasurement(
  'skein-ipc-threads-32',
  'Skein IPC 32 B (publisher thread, subscriber and driver thread)',
  'skein-ipc-threads',
  256,
);

const sabRing: Measurement = {
  id: 'sab-ring-32',
  label: 'SAB SPSC ring 32 B (2 worker threads)',
  system: 'baseline',
  kind: 'throughput',
  unit: 'msgs',
  run: (context) => {
    const { warmupMs, measureMs } = context.timing;
    const config = { capacity: 1 << 20, messageLength: 32, warmupMs, measureMs };
    return runChildren(context, [{ name: 'sab-ring-32', role: 'sab-ring', config }], 0, throughputTimeoutMs(context.timing));
  },
};

function pingTimeoutMs(timing: Timing): number {
  return timing.pingWarmupMs + timing.pingMeasureMs + RESULT_SLACK_MS;
}

const skeinPing: Measurement = {
  id: 'skein-ping-32',
  label: 'Skein UDP ping-pong 32 B',
  system: 'skein',
  kind: 'latency',
  unit: 'round trips',
  run: async (context) => {
    const pingPort = await freeUdpPort();
    const pongPort = await freeUdpPort();
    const streams = { pingPort, pongPort, pingStreamId: STREAM_ID, pongStreamId: PONG_STREAM_ID };
    const { pingWarmupMs: warmupMs, pingMeasureMs: measureMs } = context.timing;
    return runChildren(
      context,
      [
        { name: 'skein-pong', role: 'skein-pong', config: streams },
        { name: 'skein-ping', role: 'skein-ping', config: { ...streams, messageLength: 32, connectTimeoutMs: STARTUP_TIMEOUT_MS, warmupMs, measureMs } },
      ],
      1,
      pingTimeoutMs(context.timing),
    );
  },
};

const dgramPing: Measurement = {
  id: 'dgram-ping-32',
  label: 'node:dgram ping-pong 32 B',
  system: 'baseline',
  kind: 'latency',
  unit: 'round trips',
  run: async (context) => {
    const pongPort = await freeUdpPort();
    const { pingWarmupMs: warmupMs, pingMeasureMs: measureMs } = context.timing;
    return runChildren(
      context,
      [
        { name: 'dgram-pong', role: 'dgram-pong', config: { port: pongPort } },
        { name: 'dgram-ping', role: 'dgram-ping', config: { pongPort, messageLength: 32, warmupMs, measureMs } },
      ],
      1,
      pingTimeoutMs(context.timing),
    );
  },
};

const pairedPing: Measurement = {
  id: 'paired-ping-32',
  label: 'ping-pong 32 B, Skein and node:dgram alternating in the same processes',
  system: 'skein',
  kind: 'paired-latency',
  unit: 'round trips',
  run: async (context) => {
    const pingPort = await freeUdpPort();
    const pongPort = await freeUdpPort();
    const rawPongPort = await freeUdpPort();
    const streams = { pingPort, pongPort, rawPongPort, pingStreamId: STREAM_ID, pongStreamId: PONG_STREAM_ID };
    const { pingWarmupMs: warmupMs, pingMeasureMs: measureMs } = context.timing;
    return runChildren(
      context,
      [
        { name: 'paired-pong', role: 'paired-pong', config: streams },
        {
          name: 'paired-ping',
          role: 'paired-ping',
          config: { ...streams, messageLength: 32, connectTimeoutMs: STARTUP_TIMEOUT_MS, warmupMs, measureMs, sliceMs: PAIRED_SLICE_MS },
        },
      ],
      1,
      pingTimeoutMs(context.timing),
    );
  },
};

export const MEASUREMENTS: readonly Measurement[] = [
  skeinUdp('skein-udp-32', 'Skein UDP 32 B', 32),
  dgramThroughput('dgram-batch-64x21', 'node:dgram 21 × 64 B frames per datagram', 'batch'),
  dgramThroughput('dgram-single-32', 'node:dgram one 32 B datagram per message', 'single'),
  skeinUdp('skein-udp-1k', 'Skein UDP 1 KiB', 1024),
  skeinUdp('skein-udp-32-mtu8k', 'Skein UDP 32 B, channel mtu=8192', 32, 8192),
  skeinUdp('skein-udp-1k-mtu8k', 'Skein UDP 1 KiB, channel mtu=8192', 1024, 8192),
  skeinIpc,
  sabRing,
  skeinIpcThreads,
  pairedPing,
  skeinPing,
  dgramPing,
];

/**
 * The order of one repetition: Skein and its baseline alternate, and swap places on every other
 * repetition, so a drift in the machine's speed does not favour either side.
 */
export function repetitionOrder(measurements: readonly Measurement[], repetition: number): Measurement[] {
  const order = [...measurements];
  if (repetition % 2 === 1) {
    for (let i = 0; i + 1 < order.length; i += 2) [order[i], order[i + 1]] = [order[i + 1]!, order[i]!];
  }
  return order;
}
