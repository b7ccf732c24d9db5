/**
 * What timing the driver's duty cycles costs: the embedded composite (conductor, client,
 * receiver, sender, as `Skein.launch` builds it) stepped directly over an IPC stream of 32-byte
 * messages, with the agents' duty-cycle trackers on and off in alternating rounds of the same run.
 *
 *   node dist/bench/micro/duty-cycle-cost.js [messagesPerRound=500000] [rounds=20] [messagesPerCycle=16]
 *
 * Prints ns per message and per cycle for both variants (median, minimum, p90, maximum), their
 * ratios, and the cost of an idle cycle. On a shared machine the minima are the least disturbed.
 */
import { MediaDriver } from '../../src/driver/media-driver.js';
import { SkeinClient } from '../../src/client/skein-client.js';
import { CompositeAgent, type Agent } from '../../src/agent/agent.js';
import type { DutyCycleTracker } from '../../src/agent/duty-cycle-tracker.js';
import { systemEpochClock, systemNanoClock } from '../../src/env/clock.js';
import { SeededPrng } from '../../src/env/prng.js';
import { NodeDatagramTransport } from '../../src/env/node-datagram-transport.js';
import type { Publication } from '../../src/client/publication.js';
import { systemInfo } from '../support/system-info.js';

const MESSAGES = Number(process.argv[2] ?? 500_000);
const ROUNDS = Number(process.argv[3] ?? 20);
const PER_CYCLE = Number(process.argv[4] ?? 16);

interface Bench {
  step(): void;
  readonly publication: Publication;
  received: number;
  setTracked(on: boolean): void;
  close(): void;
}

async function setUp(): Promise<Bench> {
  const driver = new MediaDriver(
    { publishSnapshots: false },
    { clock: systemNanoClock, epochClock: systemEpochClock, prng: new SeededPrng(1), transport: new NodeDatagramTransport({ ref: false }) },
  );
  const client = new SkeinClient({ connection: driver.connect(), clock: systemNanoClock });
  const composite = new CompositeAgent([driver.conductor, client, driver.receiver, driver.sender], { roleName: 'skein' });
  composite.onStart();
  const step = (): void => void composite.doWork(systemNanoClock.nanoTime());
  const settle = async <T>(promise: Promise<T>): Promise<T> => {
    let done = false;
    let value: T | undefined;
    void promise.then((v) => ((value = v), (done = true)));
    for (let i = 0; i < 100_000 && !done; i++) {
      step();
      await Promise.resolve();
    }
    if (!done) throw new Error('the driver did not answer');
    return value as T;
  };
  const subscription = await settle(client.addSubscription('aeron:ipc', 1));
  const publication = await settle(client.addPublication('aeron:ipc', 1));
  for (let i = 0; i < 100_000 && !publication.isConnected; i++) step();
  const agents: Agent[] = [driver.conductor, driver.sender, driver.receiver];
  const trackers = agents.map((a) => a.dutyCycleTracker);
  const bench: Bench = {
    step,
    publication,
    received: 0,
    setTracked(on) {
      agents.forEach((agent, i) => ((agent as { dutyCycleTracker?: DutyCycleTracker }).dutyCycleTracker = on ? trackers[i] : undefined));
    },
    close() {
      client.close();
      driver.close();
    },
  };
  subscription.onFragment(() => void bench.received++, PER_CYCLE);
  return bench;
}

function streamRound(bench: Bench, tracked: boolean, payload: Uint8Array): { nsPerMessage: number; nsPerCycle: number } {
  bench.setTracked(tracked);
  const start = bench.received;
  let offered = 0;
  let cycles = 0;
  const t0 = process.hrtime.bigint();
  while (bench.received - start < MESSAGES) {
    for (let i = 0; i < PER_CYCLE && offered < MESSAGES; i++) {
      if (bench.publication.offer(payload) > 0) offered++;
      else break;
    }
    bench.step();
    cycles++;
  }
  const ns = Number(process.hrtime.bigint() - t0);
  return { nsPerMessage: ns / MESSAGES, nsPerCycle: ns / cycles };
}

function idleRound(bench: Bench, tracked: boolean, cycles: number): number {
  bench.setTracked(tracked);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < cycles; i++) bench.step();
  return Number(process.hrtime.bigint() - t0) / cycles;
}

function sorted(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

function summary(values: readonly number[]): { median: number; min: number; p90: number; max: number } {
  const s = sorted(values);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, p90: s[Math.min(s.length - 1, Math.floor(0.9 * s.length))]!, max: s[s.length - 1]! };
}

function line(name: string, values: readonly number[]): string {
  const { median, min, p90, max } = summary(values);
  return `${name.padEnd(34)} median ${median.toFixed(1)}  min ${min.toFixed(1)}  p90 ${p90.toFixed(1)}  max ${max.toFixed(1)}`;
}

const bench = await setUp();
const payload = new Uint8Array(32);
streamRound(bench, true, payload);
streamRound(bench, false, payload);
const on = { message: [] as number[], cycle: [] as number[], idle: [] as number[] };
const off = { message: [] as number[], cycle: [] as number[], idle: [] as number[] };
for (let round = 0; round < ROUNDS; round++) {
  for (const tracked of round % 2 === 0 ? [true, false] : [false, true]) {
    const result = streamRound(bench, tracked, payload);
    const into = tracked ? on : off;
    into.message.push(result.nsPerMessage);
    into.cycle.push(result.nsPerCycle);
    into.idle.push(idleRound(bench, tracked, 1_000_000));
  }
}
bench.close();
const info = systemInfo();
console.log(`Node ${info.node}, ${info.cpuModel} × ${info.cores}, load average ${info.loadAverage1m}, CPU pressure ${String(info.cpuPressure10sPct)}%`);
console.log(`${ROUNDS} alternating rounds of ${MESSAGES} IPC messages of 32 bytes, ${PER_CYCLE} offered and polled per composite cycle`);
console.log(line('ns/message, trackers on', on.message));
console.log(line('ns/message, trackers off', off.message));
console.log(line('ns/cycle, trackers on', on.cycle));
console.log(line('ns/cycle, trackers off', off.cycle));
console.log(line('idle ns/cycle, trackers on', on.idle));
console.log(line('idle ns/cycle, trackers off', off.idle));
const perRound = sorted(on.message.map((v, i) => v / off.message[i]!));
console.log(
  `on/off per message: ratio of medians ${(summary(on.message).median / summary(off.message).median).toFixed(3)}, ` +
    `of minima ${(summary(on.message).min / summary(off.message).min).toFixed(3)}, median of per-round ratios ${perRound[Math.floor(perRound.length / 2)]!.toFixed(3)}`,
);
console.log(
  `cost per cycle (on − off): busy ${(summary(on.cycle).min - summary(off.cycle).min).toFixed(0)} ns (minima), ` +
    `idle ${(summary(on.idle).min - summary(off.idle).min).toFixed(0)} ns (minima), ${(summary(on.idle).median - summary(off.idle).median).toFixed(0)} ns (medians)`,
);
