/**
 * `npm run bench -- rpc-restart`: RPC throughput while providers restart. Three `skein rpc serve`
 * processes on fixed addresses (no registry) and a `skein rpc call` process calling `echo` with
 * 64 calls in flight for a window, twice per repetition: once with the providers left alone
 * (steady), once while one of them is restarted every two seconds in turn (SIGTERM: it drains,
 * then a new process with a new incarnation starts on the same address). The goal: the
 * restart window's rate within 10 % of the steady one (ratio ≥ 0.9), with no failed call.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeUdpPortPair } from '../../src/cli/free-port.js';
import type { SuiteOptions, SuiteOutcome } from '../support/suite.js';
import { stopChild } from '../support/stop-child.js';
import { fileStamp } from '../support/suite.js';
import { spreadOf } from '../support/stats.js';
import { pairedRatio } from '../support/compare.js';
import { DEFAULT_RESULTS_DIR } from '../transport/transport-suite.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const PROVIDERS = 3;
const RESTART_EVERY_MS = 2000;
const IN_FLIGHT = 64;
const RATIO_GOAL = 0.9;

interface CallSummary {
  calls: number;
  ok: number;
  failed: number;
  callsPerSec: number;
  p50Us: number | null;
  p99Us: number | null;
  retries: number;
}

function serve(address: string, incarnation: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'rpc', 'serve', '--registry', 'none', '--address', address, '--incarnation', incarnation, '--drain-timeout-ms', '1000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`provider ${address} did not start within 15 s`)), 15_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('"event":"serving"')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`provider ${address} exited with ${code} before serving`));
    });
  });
}

function call(addresses: readonly string[], durationMs: number): Promise<CallSummary> {
  const args = [CLI, 'rpc', 'call', 'echo', '{"text":"abcdefghijklmnopqrstuvwxyz"}', '--concurrency', String(IN_FLIGHT), '--duration-ms', String(durationMs), '--timeout-ms', '3000'];
  for (const a of addresses) args.push('--provider', a);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) => {
    child.on('exit', () => {
      const line = out.trim().split('\n').pop() ?? '';
      if (!line.startsWith('{')) reject(new Error(`skein rpc call printed no summary: ${err.slice(-1000)}`));
      else resolve(JSON.parse(line) as CallSummary);
    });
  });
}

export async function runRpcRestartSuite(options: SuiteOptions): Promise<SuiteOutcome> {
  const repetitions = options.repetitions ?? 3;
  const windowMs = options.quick ? 6000 : 12_000;
  const steady: CallSummary[] = [];
  const restarting: CallSummary[] = [];
  let restarts = 0;
  for (let rep = 0; rep < repetitions; rep++) {
    const addresses: string[] = [];
    for (let i = 0; i < PROVIDERS; i++) addresses.push(`127.0.0.1:${await freeUdpPortPair()}`);
    const providers: ChildProcess[] = [];
    try {
      for (let i = 0; i < PROVIDERS; i++) providers.push(await serve(addresses[i]!, `p${i}-0`));
      steady.push(await call(addresses, windowMs));
      let running = true;
      let generation = 0;
      const restarter = (async () => {
        for (let k = 0; running; k++) {
          await new Promise((r) => setTimeout(r, RESTART_EVERY_MS));
          if (!running) break;
          const i = k % PROVIDERS;
          await stopChild(providers[i]!, 'SIGTERM');
          providers[i] = await serve(addresses[i]!, `p${i}-${++generation}`);
          restarts++;
        }
      })();
      restarting.push(await call(addresses, windowMs));
      running = false;
      await restarter;
    } finally {
      await Promise.all(providers.map((p) => stopChild(p, 'SIGKILL')));
    }
    process.stdout.write(`rpc-restart rep ${rep + 1}/${repetitions}: steady ${steady.at(-1)!.callsPerSec}/s (${steady.at(-1)!.failed} failed), restarting ${restarting.at(-1)!.callsPerSec}/s (${restarting.at(-1)!.failed} failed, ${restarting.at(-1)!.retries} retries)\n`);
  }
  const ratio = pairedRatio(restarting.map((s) => s.callsPerSec), steady.map((s) => s.callsPerSec)).paired;
  const failed = restarting.reduce((n, s) => n + s.failed, 0) + steady.reduce((n, s) => n + s.failed, 0);
  const goalMet = ratio.median >= RATIO_GOAL && failed === 0;
  const fmt = (values: number[]): string => {
    const s = spreadOf(values);
    return `${Math.round(s.median)} (${Math.round(s.min)}–${Math.round(s.max)})`;
  };
  const lines = [
    `Three \`skein rpc serve\` providers, \`skein rpc call echo\` with ${IN_FLIGHT} calls in flight for ${windowMs / 1000} s, ${repetitions} repetitions; restarting: one provider SIGTERMed (it drains) and started again on its address every ${RESTART_EVERY_MS / 1000} s, in turn (${restarts} restarts in all).`,
    '',
    '| window | calls/s | p50 µs | p99 µs | failed calls | retries |',
    '|---|---:|---:|---:|---:|---:|',
    `| steady | ${fmt(steady.map((s) => s.callsPerSec))} | ${fmt(steady.map((s) => s.p50Us ?? Number.NaN))} | ${fmt(steady.map((s) => s.p99Us ?? Number.NaN))} | ${steady.reduce((n, s) => n + s.failed, 0)} | ${steady.reduce((n, s) => n + s.retries, 0)} |`,
    `| restarting | ${fmt(restarting.map((s) => s.callsPerSec))} | ${fmt(restarting.map((s) => s.p50Us ?? Number.NaN))} | ${fmt(restarting.map((s) => s.p99Us ?? Number.NaN))} | ${restarting.reduce((n, s) => n + s.failed, 0)} | ${restarting.reduce((n, s) => n + s.retries, 0)} |`,
    '',
    `Restarting / steady, repetition by repetition: ${ratio.median.toFixed(2)} (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)}); goal ≥ ${RATIO_GOAL} with no failed call: ${goalMet ? 'met' : 'not met'}.`,
  ];
  const markdown = lines.join('\n');
  process.stdout.write(`\n${markdown}\n`);
  const dir = options.resultsDir ?? DEFAULT_RESULTS_DIR;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${options.runStamp ?? fileStamp(new Date())}-rpc-restart.json`);
  writeFileSync(file, `${JSON.stringify({ repetitions, windowMs, restarts, goalMet, steady, restarting }, null, 2)}\n`);
  return { ok: true, title: 'RPC: throughput while providers restart', markdown, files: [file] };
}
