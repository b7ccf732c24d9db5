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
import { fileURLToPath } from 'node:url';
import { ChildGroup, type ChildHandle } from '../support/child-group.js';
import { spreadOf, type Spread } from '../support/stats.js';
import type { SuiteOptions, SuiteOutcome } from '../support/suite.js';
import type { RelayLoadConfig, RelayPacing } from './relay-node.js';

const NODE_MODULE = fileURLToPath(new URL('./relay-node.js', import.meta.url));
const READY_TIMEOUT_MS = 10_000;
/** Beyond the warm-up and the measured window: the load reports within this. */
const RESULT_GRACE_MS = 10_000;
const STOP_GRACE_MS = 2_000;

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

/** One repetition: four fresh processes, one measured window; every process stopped by pid afterwards. */
export async function measureRelay(pacing: RelayPacing, warmupMs: number, durationMs: number): Promise<RelayResult> {
  const lifetimeMs = 4 * READY_TIMEOUT_MS + warmupMs + durationMs + RESULT_GRACE_MS + STOP_GRACE_MS;
  const load: RelayLoadConfig = { lifetimeMs, pacing, warmupMs, durationMs };
  const group = new ChildGroup({ modulePath: NODE_MODULE });
  const started: ChildHandle[] = [];
  try {
    const ports: number[] = [];
    for (const [name, role] of [['relay-leader', 'relay-leader'], ['relay-follower-0', 'relay-follower'], ['relay-follower-1', 'relay-follower'], ['relay-load', 'relay-load']] as const) {
      const child = group.start(name, role, role === 'relay-load' ? load : { lifetimeMs });
      started.push(child);
      const ready = await Promise.race([child.next('ready', READY_TIMEOUT_MS), ...started.map((c) => c.failure)]);
      ports.push(Number(ready['port']));
    }
    // Every process learns all four ports, the load last; it starts its warm-up then (a batch that
    // reaches the leader before the leader has the ports is dropped, and back to back the stall timer sends the next).
    const [leader, follower0, follower1, loadPort] = ports;
    for (const child of started) child.send({ type: 'command', data: { leader: leader!, follower0: follower0!, follower1: follower1!, load: loadPort! } });
    const r = await Promise.race([started[3]!.next('result', warmupMs + durationMs + RESULT_GRACE_MS), ...started.map((c) => c.failure)]);
    const count = Number(r['count']);
    if (!(count > 0)) throw new Error(`relay ${pacing}: no round trip completed in ${durationMs} ms`);
    return { count, p50Us: Number(r['p50Us']), p90Us: Number(r['p90Us']), p99Us: Number(r['p99Us']) };
  } finally {
    await group.stop(started, STOP_GRACE_MS);
    await group.close();
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
