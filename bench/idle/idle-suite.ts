/**
 * `npm run bench -- idle`: how much CPU an idle Skein costs. A child process launches the embedded
 * driver with a connected UDP stream (publisher and subscriber on loopback) and a connected IPC
 * stream, lets them settle, then measures its own CPU time (user + system) over a window in which
 * nothing is sent: heartbeats, status messages, timers and snapshots only. Reported as % of one
 * core, median of the repetitions, against the bound of 2 %.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SuiteOptions, SuiteOutcome } from '../support/suite.js';

const IDLE_CPU_PERCENT_MAX = 2;

async function runChild(windowMs: number): Promise<number> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./idle-child.js', import.meta.url)), String(windowMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), windowMs + 30_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(timer);
  const result = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { cpuPercent?: number; connected?: boolean };
  if (code !== 0 || result.cpuPercent === undefined || result.connected !== true) throw new Error(`idle child failed (exit ${code}): ${out}`);
  return result.cpuPercent;
}

export async function runIdleSuite(options: SuiteOptions): Promise<SuiteOutcome> {
  const repetitions = options.repetitions ?? 3;
  const windowMs = options.quick ? 4000 : 10_000;
  const samples: number[] = [];
  for (let i = 0; i < repetitions; i++) samples.push(await runChild(windowMs));
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)]!;
  const met = median < IDLE_CPU_PERCENT_MAX;
  const markdown =
    `| Idle Skein (UDP + IPC stream connected, ${windowMs / 1000} s windows) | median | min | max | target | met |\n|---|---:|---:|---:|---|---|\n` +
    `| CPU, % of one core | ${median.toFixed(2)} | ${samples[0]!.toFixed(2)} | ${samples[samples.length - 1]!.toFixed(2)} | < ${IDLE_CPU_PERCENT_MAX} | ${met ? 'yes' : 'no'} |`;
  process.stdout.write(`\n${markdown}\n`);
  return { ok: true, title: 'Idle: CPU of an idle Skein', markdown };
}
