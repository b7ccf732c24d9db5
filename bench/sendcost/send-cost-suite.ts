/**
 * `npm run bench -- send-cost`: what one datagram costs the process that sends it on this machine,
 * the budget every networked goal spends from. The suite's own process sends 1 KiB datagrams over
 * loopback to a child process and times each `dgram` send() call (the kernel delivers a loopback
 * datagram inside that call, and wakes the receiver there when it sleeps):
 *
 * - back to back: bursts of 16 sends, the sender and the receiver both busy (the receiver may
 *   drop some: its socket's buffer fills; counted, not judged);
 * - one every 200 µs, the sender sleeping on a timer between sends, the receiver sleeping too
 *   (how a lightly loaded cluster member or RPC process sends);
 * - one every 200 µs, the sender busy-waiting between sends, the receiver sleeping;
 * - one every 200 µs, the sender busy-waiting, the receiver spinning.
 *
 * Reported as mean µs per send() call, median (min–max) of the repetitions, each in a fresh child.
 */
import { fork } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { literalLookup } from '../support/literal-lookup.js';
import { spreadOf } from '../support/stats.js';
import type { SuiteOptions, SuiteOutcome } from '../support/suite.js';

const RECEIVER = fileURLToPath(new URL('./send-cost-receiver.js', import.meta.url));
const DATAGRAM_LENGTH = 1024;
const BURST = 16;
const SPACING_MS = 0.2;
const CHILD_TIMEOUT_MS = 30_000;

interface Case {
  readonly id: string;
  readonly label: string;
  readonly receiver: 'sleep' | 'spin';
  readonly pacing: 'burst' | 'timer' | 'busy';
}

const CASES: readonly Case[] = [
  { id: 'burst', label: 'back to back (bursts of 16)', receiver: 'sleep', pacing: 'burst' },
  { id: 'timer-sleep', label: 'every 200 µs; sender sleeps on a timer; receiver sleeps', receiver: 'sleep', pacing: 'timer' },
  { id: 'busy-sleep', label: 'every 200 µs; sender busy-waits; receiver sleeps', receiver: 'sleep', pacing: 'busy' },
  { id: 'busy-spin', label: 'every 200 µs; sender busy-waits; receiver spins', receiver: 'spin', pacing: 'busy' },
];

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Mean µs per send() call over `count` datagrams, and whether all of them arrived. */
async function measure(c: Case, count: number): Promise<{ meanUs: number; lost: number }> {
  const child = fork(RECEIVER, [c.receiver], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const killer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
  let socket: Socket | null = null;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m: { port: number }) => resolve(m.port));
      child.once('exit', (code) => reject(new Error(`send-cost receiver exited (${String(code)}) before binding`)));
    });
    const s = createSocket({ type: 'udp4', lookup: literalLookup });
    socket = s;
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    const data = Buffer.alloc(DATAGRAM_LENGTH, 7);
    let spentMs = 0;
    for (let i = 0; i < count; i++) {
      const start = performance.now();
      s.send(data, 0, DATAGRAM_LENGTH, port, '127.0.0.1');
      spentMs += performance.now() - start;
      if (c.pacing === 'burst') {
        if (i % BURST === BURST - 1) await nextTurn();
      } else if (c.pacing === 'timer') {
        await pause(SPACING_MS);
      } else {
        const until = performance.now() + SPACING_MS;
        while (performance.now() < until);
        // Let the socket's completions run now and then without sleeping.
        if (i % BURST === BURST - 1) await nextTurn();
      }
    }
    await pause(50);
    const received = await new Promise<number>((resolve) => {
      child.once('message', (m: { received: number }) => resolve(m.received));
      child.send('count');
    });
    return { meanUs: (spentMs * 1000) / count, lost: count - received };
  } finally {
    clearTimeout(killer);
    socket?.close();
    if (child.exitCode === null) child.kill('SIGTERM');
  }
}

export async function runSendCostSuite(options: SuiteOptions): Promise<SuiteOutcome> {
  const repetitions = options.repetitions ?? 3;
  const count = options.quick ? 2000 : 6000;
  const cases = options.only.length > 0 ? CASES.filter((c) => options.only.includes(c.id)) : CASES;
  const rows: string[] = [];
  let ok = true;
  for (const c of cases) {
    const means: number[] = [];
    let lost = 0;
    for (let r = 0; r < repetitions; r++) {
      const result = await measure(c, count);
      means.push(result.meanUs);
      lost += result.lost;
    }
    // Only paced sends must all arrive: a burst may outrun the receiving socket's buffer.
    if (lost > 0 && c.pacing !== 'burst') ok = false;
    const s = spreadOf(means);
    rows.push(`| ${c.label} | ${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)}) | ${lost} |`);
    process.stdout.write(`send-cost ${c.id}: ${s.median.toFixed(1)} µs per send (${s.min.toFixed(1)}–${s.max.toFixed(1)}), ${lost} lost\n`);
  }
  const markdown =
    `${DATAGRAM_LENGTH}-byte datagrams over loopback to another process, ${count} per repetition, ${repetitions} repetitions; time inside each \`dgram\` send() call (loopback delivery, and the receiver's wake-up when it sleeps, happen there).\n\n` +
    `| sending | µs per send(), median (min–max) | lost (all repetitions) |\n|---|---:|---:|\n${rows.join('\n')}`;
  process.stdout.write(`\n${markdown}\n`);
  return { ok, title: 'Send cost: what one datagram costs its sender', markdown };
}
