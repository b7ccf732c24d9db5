/**
 * What a Map or Set that gains and loses one entry per call costs the garbage collector once its
 * table has reached the old generation, beside the IntMap that RPC uses instead. 64 promise loops
 * each await a "call" that a setImmediate poller answers in batches; per call the variant adds
 * and deletes one entry in a Set, a Map, an IntMap, or nothing. The tables hold a few entries
 * through a few scavenges first, as a long-lived one does. Each variant runs in a child process
 * with --trace-gc-nvp.
 *
 *   node dist/bench/micro/map-churn.js [seconds=3]
 *
 * Prints calls per second, bytes promoted by scavenges and their pause time for each variant.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { IntMap } from '../../src/util/int-map.js';

const VARIANTS = ['none', 'set', 'map', 'intmap'] as const;
type Variant = (typeof VARIANTS)[number];

interface Pending {
  readonly id: number;
  readonly resolve: (value: Uint8Array) => void;
  readonly payload: Uint8Array;
}

async function child(variant: Variant, seconds: number): Promise<void> {
  const set = new Set<Pending>();
  const map = new Map<number, Pending>();
  const intMap = new IntMap<Pending>();
  const pending: Pending[] = [];
  let nextId = 1;
  let stop = false;
  let calls = 0;
  const call = (): Promise<Uint8Array> =>
    new Promise((resolve) => {
      const entry: Pending = { id: nextId, resolve, payload: new Uint8Array(32) };
      nextId = (nextId % 0x7fffffff) + 1;
      if (variant === 'set') set.add(entry);
      else if (variant === 'map') map.set(entry.id, entry);
      else if (variant === 'intmap') intMap.set(entry.id, entry);
      pending.push(entry);
    });
  const poll = (): void => {
    for (const entry of pending.splice(0, pending.length)) {
      if (variant === 'set') set.delete(entry);
      else if (variant === 'map') map.delete(entry.id);
      else if (variant === 'intmap') intMap.delete(entry.id);
      entry.resolve(entry.payload.slice());
    }
    if (!stop) setImmediate(poll);
  };
  // Age the tables: a few entries, then enough garbage for two scavenges to pass over them.
  for (let i = 0; i < 100; i++) {
    const entry: Pending = { id: 0x7000_0000 + i, resolve: () => {}, payload: new Uint8Array(0) };
    set.add(entry);
    map.set(entry.id, entry);
    intMap.set(entry.id, entry);
  }
  let sink = 0;
  for (let round = 0; round < 3; round++) {
    const junk: object[] = [];
    for (let j = 0; j < 200_000; j++) junk.push({ j });
    sink += junk.length;
  }
  for (const entry of [...set]) {
    set.delete(entry);
    map.delete(entry.id);
    intMap.delete(entry.id);
  }
  const loops: Promise<void>[] = [];
  for (let i = 0; i < 64; i++) {
    loops.push(
      (async () => {
        while (!stop) {
          const answer = await call();
          if (answer.length !== 32) throw new Error('bad answer');
          calls++;
        }
      })(),
    );
  }
  setImmediate(poll);
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  stop = true;
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(loops.map((loop) => Promise.race([loop, new Promise((r) => setTimeout(r, 100))])));
  process.stdout.write(`RESULT ${JSON.stringify({ callsPerSecond: Math.round(calls / elapsed), sink })}\n`);
  process.exit(0);
}

function parent(seconds: number): void {
  const script = fileURLToPath(import.meta.url);
  console.log(`| variant | calls/s | promoted by scavenges | scavenge pauses |`);
  console.log(`|---|---:|---:|---:|`);
  for (const variant of VARIANTS) {
    const run = spawnSync(process.execPath, ['--trace-gc-nvp', script, 'child', variant, String(seconds)], { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
    const out = `${run.stdout}`;
    const result = /RESULT (.*)/.exec(out);
    if (run.status !== 0 || result === null) throw new Error(`variant ${variant} failed (status ${String(run.status)}): ${run.stderr}`);
    let promoted = 0;
    let pauseMs = 0;
    for (const line of out.split('\n')) {
      if (!/ gc=s /.test(line)) continue;
      promoted += Number(/ promoted=(\d+)/.exec(line)?.[1] ?? 0);
      pauseMs += Number(/pause=([\d.]+)/.exec(line)?.[1] ?? 0);
    }
    const { callsPerSecond } = JSON.parse(result[1]!) as { callsPerSecond: number };
    console.log(`| ${variant} | ${callsPerSecond.toLocaleString('en')} | ${(promoted / 1e6).toFixed(0)} MB | ${pauseMs.toFixed(0)} ms |`);
  }
}

const [mode, variant, secondsArg] = process.argv.slice(2);
if (mode === 'child') {
  if (!(VARIANTS as readonly string[]).includes(variant ?? '')) throw new Error(`variant ${String(variant)} is not one of ${VARIANTS.join(', ')}`);
  await child(variant as Variant, Number(secondsArg));
} else {
  const seconds = Number(mode ?? 3);
  if (!(seconds > 0 && seconds <= 600)) throw new Error(`seconds=${String(mode)} is invalid; expected a number in (0, 600]`);
  parent(seconds);
}
