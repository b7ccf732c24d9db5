/**
 * One process of the relay suite: a bare `node:dgram` stand-in for one process on a three-member
 * cluster's command path, doing nothing but pass datagrams on. Binds a UDP socket on loopback,
 * tells its parent the port, takes the others' ports, then:
 *
 * - `leader`: a datagram from the load goes on to both followers; the first acknowledgement of a
 *   batch (a follower's datagram with a batch number above the last answered) goes back to the load;
 * - `follower`: every datagram is acknowledged to the leader;
 * - `load`: sends numbered, timestamped batches (paced: one each millisecond on a timer, as the
 *   cluster load's open loop sends at 10k commands/s; or back to back: the next when the answer is
 *   in) and keeps each answer's round trip after the warm-up, then reports percentiles and exits.
 *
 * Datagram lengths are the cluster's at 10k commands/s (three members, 8 KiB MTU, counted on the
 * wire): a load batch 2,041 bytes, a log batch 1,224, an AppendPosition 63, an answer batch 1,291.
 */
import { createSocket, type RemoteInfo } from 'node:dgram';

export type RelayRole = 'leader' | 'follower' | 'load';
export type RelayPacing = 'paced' | 'back-to-back';

export interface RelayPorts {
  readonly leader: number;
  readonly followers: readonly [number, number];
  readonly load: number;
}

/** What the parent sends: the ports, then (to the load) what to run. */
export type RelayParentMessage =
  | { readonly type: 'ports'; readonly ports: RelayPorts }
  | { readonly type: 'run'; readonly pacing: RelayPacing; readonly warmupMs: number; readonly durationMs: number };

/** What a child sends: its port once bound; the load its round trips at the end. */
export type RelayChildMessage =
  | { readonly type: 'bound'; readonly port: number }
  | { readonly type: 'result'; readonly count: number; readonly p50Us: number; readonly p90Us: number; readonly p99Us: number };

const LOAD_BATCH_BYTES = 2041;
const LOG_BATCH_BYTES = 1224;
const APPEND_POSITION_BYTES = 63;
const ANSWER_BATCH_BYTES = 1291;
const HOST = '127.0.0.1';
const PACED_INTERVAL_MS = 1;
/** Back to back: a batch whose answer has not come within this long (a datagram lost) is followed by the next. */
const STALL_MS = 50;
const MAX_SAMPLES = 1_000_000;

const literalLookup = (host: string, _options: unknown, callback: (error: Error | null, address: string, family: number) => void): void => callback(null, host, 4);

function percentile(sorted: Float64Array, q: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}

function main(): void {
  const role = process.argv[2];
  if (role !== 'leader' && role !== 'follower' && role !== 'load') throw new Error(`relay node: role '${String(role)}' is not leader, follower or load`);
  const socket = createSocket({ type: 'udp4', lookup: literalLookup });
  let ports: RelayPorts | null = null;
  const out = Buffer.alloc(role === 'leader' ? Math.max(LOG_BATCH_BYTES, ANSWER_BATCH_BYTES) : role === 'follower' ? APPEND_POSITION_BYTES : LOAD_BATCH_BYTES);
  // Leader: the highest batch answered, so a second follower's acknowledgement is not answered again.
  let answered = -1;
  // Load state.
  const samples = new Float64Array(MAX_SAMPLES);
  let sampleCount = 0;
  let batch = 0;
  let measureFrom = Number.POSITIVE_INFINITY;
  let measureUntil = Number.POSITIVE_INFINITY;
  let pacing: RelayPacing = 'paced';
  let finished = false;
  let lastSendMs = 0;

  const sendBatch = (): void => {
    out.writeUInt32LE(batch++, 0);
    lastSendMs = performance.now();
    out.writeDoubleLE(lastSendMs, 8);
    socket.send(out, 0, LOAD_BATCH_BYTES, ports!.leader, HOST);
  };
  const finish = (): void => {
    if (finished) return;
    finished = true;
    const sorted = samples.slice(0, sampleCount).sort();
    const result: RelayChildMessage = { type: 'result', count: sampleCount, p50Us: percentile(sorted, 0.5), p90Us: percentile(sorted, 0.9), p99Us: percentile(sorted, 0.99) };
    process.send!(result, () => {
      socket.close();
      process.disconnect();
    });
  };
  const tick = (): void => {
    if (performance.now() >= measureUntil) {
      finish();
      return;
    }
    sendBatch();
    setTimeout(tick, PACED_INTERVAL_MS);
  };

  socket.on('message', (data: Buffer, from: RemoteInfo) => {
    const p = ports;
    if (p === null) return;
    if (role === 'follower') {
      data.copy(out, 0, 0, 16);
      socket.send(out, 0, APPEND_POSITION_BYTES, p.leader, HOST);
    } else if (role === 'leader') {
      if (from.port === p.load) {
        data.copy(out, 0, 0, 16);
        socket.send(out, 0, LOG_BATCH_BYTES, p.followers[0], HOST);
        socket.send(out, 0, LOG_BATCH_BYTES, p.followers[1], HOST);
      } else {
        const n = data.readUInt32LE(0);
        if (n <= answered) return;
        answered = n;
        data.copy(out, 0, 0, 16);
        socket.send(out, 0, ANSWER_BATCH_BYTES, p.load, HOST);
      }
    } else {
      const now = performance.now();
      if (now >= measureFrom && now < measureUntil && sampleCount < MAX_SAMPLES) samples[sampleCount++] = (now - data.readDoubleLE(8)) * 1000;
      if (pacing === 'back-to-back') {
        if (now >= measureUntil) finish();
        else sendBatch();
      }
    }
  });
  process.on('message', (message: RelayParentMessage) => {
    if (message.type === 'ports') {
      ports = message.ports;
    } else if (role === 'load') {
      pacing = message.pacing;
      const start = performance.now();
      measureFrom = start + message.warmupMs;
      measureUntil = measureFrom + message.durationMs;
      if (pacing === 'paced') {
        tick();
      } else {
        sendBatch();
        const watchdog = setInterval(() => {
          const now = performance.now();
          if (now >= measureUntil) {
            clearInterval(watchdog);
            finish();
          } else if (now - lastSendMs > STALL_MS) {
            sendBatch();
          }
        }, STALL_MS / 2);
      }
    }
  });
  socket.bind(0, HOST, () => {
    const bound: RelayChildMessage = { type: 'bound', port: socket.address().port };
    process.send!(bound);
  });
}

main();
