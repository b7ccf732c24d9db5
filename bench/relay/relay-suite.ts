/**
 * `npm run bench -- relay`: the floor under a three-member cluster's round trip on this machine.
 * Four bare `node:dgram` processes (relay-node.ts: a load, a leader, two followers) pass datagrams
 * of the cluster's lengths along the cluster's path (load → leader → both followers → leader, which
 * answers on the first acknowledgement → load) and do nothing else: no driver, archive, consensus
 * or service. What the cluster's p50 at 10k commands/s is measured against, in the same run:
 *
 * - paced: a batch each millisecond from the load's timer, every process asleep between batches
 *   (how the cluster load sends at 10k/s: the commands due each millisecond travel together);
 * - back to back: the next batch as soon as the answer is in (one in flight).
 *
 * Each repetition starts four fresh processes, measures after a warm-up, and stops all four by pid.
 * Reported: p50, p90 and p99 of the round trip in µs, median (min–max) of the repetitions.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { spreadOf, type Spread } from '../support/stats.js';
import { stopChild } from '../support/stop-child.js';
import type { SuiteOptions, SuiteOutcome } from '../support/suite.js';
import type { RelayChildMessage, RelayPacing, RelayParentMessage, RelayRole } from './relay-node.js';

const NODE_SCRIPT = fileURLToPath(new URL('./relay-node.js', import.meta.url));
const ROLES: readonly RelayRole[] = ['leader', 'follower', 'follower', 'load'];
const BIND_TIMEOUT_MS = 10_000;
/** Beyond the warm-up and the measured window: the load reports and exits within this. */
const RESULT_GRACE_MS = 10_000;
const KILL_AFTER_MS = 2_000;

export interface RelayCase {
  readonly id: string;
  readonly label: string;
  readonly pacing: RelayPacing;
}

export const RELAY_CASES: readonly RelayCase[] = [
  { id: 'paced', label: 'a batch each millisecond (as the cluster load at 10k/s)', pacing: 'paced' },
  { id: 'back-to-back', label: 'back to back (one in flight)', pacing: 'back-to-back' },
];

export interface RelayResult {
  readonly count: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
}

function nextMessage<T extends RelayChildMessage['type']>(child: ChildProcess, name: string, type: T, timeoutMs: number): Promise<Extract<RelayChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (message: RelayChildMessage): void => {
      if (message.type !== type) return;
      cleanup();
      resolve(message as Extract<RelayChildMessage, { type: T }>);
    };
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup();
      reject(new Error(`relay ${name} (pid ${String(child.pid)}) exited (code ${String(code)}, signal ${String(signal)}) before its '${type}'`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`relay ${name} (pid ${String(child.pid)}) sent no '${type}' within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** One repetition: four fresh processes, one measured window. */
export async function measureRelay(pacing: RelayPacing, warmupMs: number, durationMs: number): Promise<RelayResult> {
  const children: ChildProcess[] = [];
  try {
    for (const role of ROLES) children.push(fork(NODE_SCRIPT, [role], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
    const ports = await Promise.all(children.map((child, i) => nextMessage(child, ROLES[i]!, 'bound', BIND_TIMEOUT_MS).then((m) => m.port)));
    const portsMessage: RelayParentMessage = { type: 'ports', ports: { leader: ports[0]!, followers: [ports[1]!, ports[2]!], load: ports[3]! } };
    for (const child of children) child.send(portsMessage);
    const load = children[3]!;
    const result = nextMessage(load, 'load', 'result', warmupMs + durationMs + RESULT_GRACE_MS);
    const run: RelayParentMessage = { type: 'run', pacing, warmupMs, durationMs };
    load.send(run);
    const r = await result;
    if (r.count === 0) throw new Error(`relay ${pacing}: no round trip completed in ${durationMs} ms`);
    return { count: r.count, p50Us: r.p50Us, p90Us: r.p90Us, p99Us: r.p99Us };
  } finally {
    await Promise.all(children.map((child) => stopChild(child, 'SIGTERM', KILL_AFTER_MS)));
  }
}

/** Repetitions of one case: the spread of each percentile, and the round trips counted in all. */
export async function measureRelayCase(c: RelayCase, repetitions: number, quick: boolean): Promise<{ p50: Spread; p90: Spread; p99: Spread; count: number }> {
  const results: RelayResult[] = [];
  for (let r = 0; r < repetitions; r++) results.push(await measureRelay(c.pacing, quick ? 500 : 1000, quick ? 1500 : 3000));
  return {
    p50: spreadOf(results.map((x) => x.p50Us)),
    p90: spreadOf(results.map((x) => x.p90Us)),
    p99: spreadOf(results.map((x) => x.p99Us)),
    count: results.reduce((sum, x) => sum + x.count, 0),
  };
}

const us = (s: Spread): string => `${Math.round(s.median)} (${Math.round(s.min)}–${Math.round(s.max)})`;

export async function runRelaySuite(options: SuiteOptions): Promise<SuiteOutcome> {
  const repetitions = options.repetitions ?? 3;
  const cases = options.only.length > 0 ? RELAY_CASES.filter((c) => options.only.includes(c.id)) : RELAY_CASES;
  const rows: string[] = [];
  for (const c of cases) {
    const m = await measureRelayCase(c, repetitions, options.quick);
    rows.push(`| ${c.label} | ${us(m.p50)} | ${us(m.p90)} | ${us(m.p99)} | ${m.count} |`);
    process.stdout.write(`relay ${c.id}: p50 ${us(m.p50)} µs, p90 ${us(m.p90)}, p99 ${us(m.p99)}, ${m.count} round trips\n`);
  }
  const markdown =
    'Four bare `node:dgram` processes on loopback passing datagrams of a three-member cluster\'s lengths along its command path (load → leader → both followers → leader, answering on the first acknowledgement → load), with no other work; ' +
    `${repetitions} repetitions, each with four fresh processes. Round trip in µs, median (min–max) of the repetitions.\n\n` +
    `| load | p50 | p90 | p99 | round trips |\n|---|---:|---:|---:|---:|\n${rows.join('\n')}`;
  process.stdout.write(`\n${markdown}\n`);
  return { ok: true, title: 'Relay: the cluster\'s round trip with no work', markdown };
}
