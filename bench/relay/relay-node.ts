/**
 * The processes of the relay suite (`relay-node.js <role> <json>`, run by the bench's child
 * runtime): bare `node:dgram` stand-ins for the processes on a three-member cluster's command path,
 * doing nothing but pass datagrams on. Each binds a port of the OS's choosing on loopback and
 * tells it in its `ready`; the suite then sends every process all four ports (a `command`), and:
 *
 * - `relay-leader`: a datagram from the load goes on to both followers; the first acknowledgement of
 *   a batch (a follower's datagram with a batch number above the last answered) goes back to the load;
 * - `relay-follower`: every datagram is acknowledged to the leader;
 * - `relay-load`: sends numbered, timestamped batches (paced: one each millisecond on a timer, as the
 *   cluster load's open loop sends at 10k commands/s; or back to back: the next when the answer is
 *   in) and keeps each answer's round trip after the warm-up, then sends its percentiles as its result.
 *
 * Datagram lengths are the cluster's at 10k commands/s (three members, 8 KiB MTU, counted on the
 * wire): a load batch 2,041 bytes, a log batch 1,224, an AppendPosition 63, an answer batch 1,291.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Metrics } from '../support/child-messages.js';
import { runChild, type ChildConfig, type ChildContext, type RoleHandle } from '../support/child-runtime.js';
import { literalLookup } from '../support/literal-lookup.js';
import { quantileOfSorted } from '../support/stats.js';

export type RelayPacing = 'paced' | 'back-to-back';

export interface RelayPorts {
  readonly leader: number;
  readonly followers: readonly [number, number];
  readonly load: number;
}

export interface RelayLoadConfig extends ChildConfig {
  readonly pacing: RelayPacing;
  readonly warmupMs: number;
  readonly durationMs: number;
}

const LOAD_BATCH_BYTES = 2041;
const LOG_BATCH_BYTES = 1224;
const APPEND_POSITION_BYTES = 63;
const ANSWER_BATCH_BYTES = 1291;
/** The batch number and the load's send time lead every datagram, copied from hop to hop. */
const STAMP_BYTES = 16;
const HOST = '127.0.0.1';
const PACED_INTERVAL_MS = 1;
/** Back to back: a batch whose answer has not come within this long (a datagram lost) is followed by the next. */
const STALL_MS = 50;
const MAX_SAMPLES = 1_000_000;

async function bound(): Promise<Socket> {
  const socket = createSocket({ type: 'udp4', lookup: literalLookup });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port: 0, address: HOST, exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}

/** The ports the suite sends in its command, checked. */
function portsOf(data: Metrics): RelayPorts {
  const port = (key: string): number => {
    const value = data[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) throw new Error(`relay: ports command's ${key}=${String(value)} is not a port`);
    return value;
  };
  return { leader: port('leader'), followers: [port('follower0'), port('follower1')], load: port('load') };
}

async function relayLeader(_config: ChildConfig, context: ChildContext): Promise<RoleHandle> {
  const socket = await bound();
  let ports: RelayPorts | null = null;
  const out = Buffer.alloc(Math.max(LOG_BATCH_BYTES, ANSWER_BATCH_BYTES));
  // The highest batch answered, so a second follower's acknowledgement is not answered again.
  let answered = -1;
  socket.on('message', (data: Buffer, from: RemoteInfo) => {
    if (ports === null) return;
    data.copy(out, 0, 0, STAMP_BYTES);
    if (from.port === ports.load) {
      socket.send(out, 0, LOG_BATCH_BYTES, ports.followers[0], HOST);
      socket.send(out, 0, LOG_BATCH_BYTES, ports.followers[1], HOST);
      return;
    }
    const n = data.readUInt32LE(0);
    if (n <= answered) return;
    answered = n;
    socket.send(out, 0, ANSWER_BATCH_BYTES, ports.load, HOST);
  });
  context.ready({ port: socket.address().port });
  return {
    command: (data) => {
      ports = portsOf(data);
    },
    stop: () => {
      socket.close();
      return { answered: answered + 1 };
    },
  };
}

async function relayFollower(_config: ChildConfig, context: ChildContext): Promise<RoleHandle> {
  const socket = await bound();
  let leader = 0;
  const out = Buffer.alloc(APPEND_POSITION_BYTES);
  socket.on('message', (data: Buffer) => {
    if (leader === 0) return;
    data.copy(out, 0, 0, STAMP_BYTES);
    socket.send(out, 0, APPEND_POSITION_BYTES, leader, HOST);
  });
  context.ready({ port: socket.address().port });
  return {
    command: (data) => {
      leader = portsOf(data).leader;
    },
    stop: () => {
      socket.close();
      return {};
    },
  };
}

async function relayLoad(config: RelayLoadConfig, context: ChildContext): Promise<RoleHandle> {
  const { pacing } = config;
  const socket = await bound();
  let leader = 0;
  const out = Buffer.alloc(LOAD_BATCH_BYTES);
  const samples = new Float64Array(MAX_SAMPLES);
  let sampleCount = 0;
  let batch = 0;
  let lastSendMs = 0;
  let timer: NodeJS.Timeout | null = null;
  let finished = false;
  let measureFrom = Number.POSITIVE_INFINITY;
  let measureUntil = Number.POSITIVE_INFINITY;

  const sendBatch = (): void => {
    out.writeUInt32LE(batch++, 0);
    lastSendMs = performance.now();
    out.writeDoubleLE(lastSendMs, 8);
    socket.send(out, 0, LOAD_BATCH_BYTES, leader, HOST);
  };
  const finish = (): void => {
    if (finished) return;
    finished = true;
    if (timer !== null) clearTimeout(timer);
    const sorted = samples.slice(0, sampleCount).sort();
    context.result({ count: sampleCount, p50Us: quantileOfSorted(sorted, 0.5), p90Us: quantileOfSorted(sorted, 0.9), p99Us: quantileOfSorted(sorted, 0.99) });
  };
  // Paced: one batch a turn of the timer. Back to back: the timer only ends the window and covers a lost datagram.
  const tick = (): void => {
    const now = performance.now();
    if (now >= measureUntil) {
      finish();
      return;
    }
    if (pacing === 'paced' || now - lastSendMs > STALL_MS) sendBatch();
    timer = setTimeout(tick, pacing === 'paced' ? PACED_INTERVAL_MS : STALL_MS / 2);
  };
  socket.on('message', (data: Buffer) => {
    if (finished) return;
    const now = performance.now();
    if (now >= measureFrom && now < measureUntil && sampleCount < MAX_SAMPLES) samples[sampleCount++] = (now - data.readDoubleLE(8)) * 1000;
    if (pacing === 'back-to-back' && now < measureUntil) sendBatch();
  });
  context.ready({ port: socket.address().port });
  return {
    // The ports: the others listen, so the window starts.
    command: (data) => {
      if (leader !== 0) return;
      leader = portsOf(data).leader;
      measureFrom = performance.now() + config.warmupMs;
      measureUntil = measureFrom + config.durationMs;
      if (pacing === 'back-to-back') sendBatch();
      tick();
    },
    stop: () => {
      finished = true;
      if (timer !== null) clearTimeout(timer);
      socket.close();
      return { batches: batch };
    },
  };
}

runChild({ 'relay-leader': relayLeader, 'relay-follower': relayFollower, 'relay-load': relayLoad });
