/**
 * The processes of the relay suite (`relay-node.js <role> <json>`, run by the bench's child
 * runtime): bare `node:dgram` stand-ins for the processes on a three-member cluster's command path,
 * doing nothing but pass datagrams on. Each binds its port on loopback (chosen by the suite), then:
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
import { runChild, type ChildConfig, type ChildContext, type RoleHandle } from '../support/child-runtime.js';

export type RelayPacing = 'paced' | 'back-to-back';

export interface RelayPorts {
  readonly leader: number;
  readonly followers: readonly [number, number];
  readonly load: number;
}

export interface RelayNodeConfig extends ChildConfig {
  readonly ports: RelayPorts;
  /** The follower's own port (followers only). */
  readonly port?: number;
}

export interface RelayLoadConfig extends RelayNodeConfig {
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

const literalLookup = (host: string, _options: unknown, callback: (error: Error | null, address: string, family: number) => void): void => callback(null, host, 4);

async function bound(port: number): Promise<Socket> {
  const socket = createSocket({ type: 'udp4', lookup: literalLookup });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port, address: HOST, exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}

async function relayLeader(config: RelayNodeConfig, context: ChildContext): Promise<RoleHandle> {
  const { ports } = config;
  const socket = await bound(ports.leader);
  const out = Buffer.alloc(Math.max(LOG_BATCH_BYTES, ANSWER_BATCH_BYTES));
  // The highest batch answered, so a second follower's acknowledgement is not answered again.
  let answered = -1;
  socket.on('message', (data: Buffer, from: RemoteInfo) => {
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
  context.ready();
  return {
    stop: () => {
      socket.close();
      return { answered: answered + 1 };
    },
  };
}

async function relayFollower(config: RelayNodeConfig, context: ChildContext): Promise<RoleHandle> {
  const { ports } = config;
  if (config.port === undefined || !ports.followers.includes(config.port)) throw new Error(`relay follower: port ${String(config.port)} is not one of the followers' ${ports.followers.join(', ')}`);
  const socket = await bound(config.port);
  const out = Buffer.alloc(APPEND_POSITION_BYTES);
  socket.on('message', (data: Buffer) => {
    data.copy(out, 0, 0, STAMP_BYTES);
    socket.send(out, 0, APPEND_POSITION_BYTES, ports.leader, HOST);
  });
  context.ready();
  return {
    stop: () => {
      socket.close();
      return {};
    },
  };
}

async function relayLoad(config: RelayLoadConfig, context: ChildContext): Promise<RoleHandle> {
  const { ports, pacing } = config;
  const socket = await bound(ports.load);
  const out = Buffer.alloc(LOAD_BATCH_BYTES);
  const samples = new Float64Array(MAX_SAMPLES);
  let sampleCount = 0;
  let batch = 0;
  let lastSendMs = 0;
  let timer: NodeJS.Timeout | null = null;
  let finished = false;
  const measureFrom = performance.now() + config.warmupMs;
  const measureUntil = measureFrom + config.durationMs;

  const sendBatch = (): void => {
    out.writeUInt32LE(batch++, 0);
    lastSendMs = performance.now();
    out.writeDoubleLE(lastSendMs, 8);
    socket.send(out, 0, LOAD_BATCH_BYTES, ports.leader, HOST);
  };
  const finish = (): void => {
    if (finished) return;
    finished = true;
    if (timer !== null) clearTimeout(timer);
    const sorted = samples.slice(0, sampleCount).sort();
    context.result({ count: sampleCount, p50Us: percentile(sorted, 0.5), p90Us: percentile(sorted, 0.9), p99Us: percentile(sorted, 0.99) });
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
  context.ready();
  if (pacing === 'back-to-back') sendBatch();
  tick();
  return {
    stop: () => {
      finished = true;
      if (timer !== null) clearTimeout(timer);
      socket.close();
      return { batches: batch };
    },
  };
}

runChild({ 'relay-leader': relayLeader, 'relay-follower': relayFollower, 'relay-load': relayLoad });
