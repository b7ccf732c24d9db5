/**
 * `npm run bench -- archive`: the archive recording its own IPC stream at 32 B, 1 KiB and 64 KiB
 * messages, beside sequential file writes of the same number of bytes measured in the same run
 * (the goal: recording at least 0.8x the raw write rate), the replay rate of what was
 * recorded, and the time from offer to recorded position (one message at a time, p50 and p99).
 *
 * Every measurement runs in a fresh process; each repetition measures, side by side, the raw
 * writes, recording with the publisher on the archive's own thread, and recording with the
 * publisher in a worker thread (so the archive's thread only records, as Aeron's recorder thread
 * does). Ratios are taken repetition by repetition. Both sides end with the data on the device:
 * the raw writes with one fdatasync, the recording (file sync level 0, Aeron's default) with an
 * fdatasync of its segment files, inside the timed window. Each recording run first records and
 * syncs a warm-up of a fifth as many messages, untimed.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SuiteOptions, SuiteOutcome } from '../support/suite.js';
import { spreadOf, type Spread } from '../support/stats.js';
import { pairedRatio } from '../support/compare.js';
import { DEFAULT_RESULTS_DIR } from '../transport/transport-suite.js';
import { fileStamp } from '../support/suite.js';
import type { ArchiveChildConfig } from './archive-child.js';

const RAW_RATIO_GOAL = 0.8;
const TERM_LENGTH = 16 * 1024 * 1024;

interface Size {
  readonly id: string;
  readonly messageLength: number;
  /** Messages per run (quick runs take a quarter). */
  readonly count: number;
}

/** About 512 MB of log per timed run (a quarter in quick runs), after a warm-up of a fifth of that. */
const SIZES: readonly Size[] = [
  { id: '32b', messageLength: 32, count: 8_000_000 },
  { id: '1k', messageLength: 1024, count: 500_000 },
  { id: '64k', messageLength: 64 * 1024, count: 8_000 },
];

async function runChild(config: ArchiveChildConfig): Promise<Record<string, number>> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./archive-child.js', import.meta.url)), JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(timer);
  const line = out.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`archive bench child ${JSON.stringify(config)} failed (exit ${code}): ${err.slice(-2000)}${out.slice(-500)}`);
  return JSON.parse(line) as Record<string, number>;
}

/** Frame bytes a message of `length` takes in the log (header plus payload, 32-byte aligned; fragments for long ones). */
function framedLength(length: number): number {
  const maxPayload = 1408 - 32;
  if (length <= maxPayload) return Math.ceil((32 + length) / 32) * 32;
  const full = Math.floor(length / maxPayload);
  const rest = length % maxPayload;
  return full * Math.ceil((32 + maxPayload) / 32) * 32 + (rest > 0 ? Math.ceil((32 + rest) / 32) * 32 : 0);
}

interface SizeResult {
  readonly size: Size;
  readonly count: number;
  readonly raw: number[];
  readonly sized: number[];
  readonly recordOne: number[];
  readonly recordOneMsgs: number[];
  readonly recordThread: number[];
  readonly recordThreadMsgs: number[];
  readonly replayBytes: number[];
  readonly replayMsgs: number[];
  readonly p50: number[];
  readonly p99: number[];
}

const MB = 1_000_000;
const fmt = (s: Spread, scale: number, digits = 0): string => (s.count === 0 ? 'n/a' : `${(s.median / scale).toFixed(digits)} (${(s.min / scale).toFixed(digits)}–${(s.max / scale).toFixed(digits)})`);

export async function runArchiveSuite(options: SuiteOptions): Promise<SuiteOutcome> {
  const repetitions = options.repetitions ?? (options.quick ? 3 : 5);
  const latencySamples = options.quick ? 2000 : 10_000;
  const results: SizeResult[] = [];
  for (const size of SIZES) {
    if (options.only.length > 0 && !options.only.includes(size.id)) continue;
    const count = options.quick ? Math.ceil(size.count / 4) : size.count;
    const r: SizeResult = { size, count, raw: [], sized: [], recordOne: [], recordOneMsgs: [], recordThread: [], recordThreadMsgs: [], replayBytes: [], replayMsgs: [], p50: [], p99: [] };
    for (let rep = 0; rep < repetitions; rep++) {
      const common = { mode: 'record', messageLength: size.messageLength, count, warmupCount: Math.ceil(count / 5), termLength: TERM_LENGTH, fsync: true } as const;
      const one = await runChild({ ...common, replay: true, latencySamples: size.messageLength <= 1024 ? latencySamples : 0, publisherThread: false });
      const thread = await runChild({ ...common, replay: false, latencySamples: 0, publisherThread: true });
      const totalBytes = one.recordedBytes ?? count * framedLength(size.messageLength);
      const raw = await runChild({ mode: 'raw-write', totalBytes, chunkBytes: 1024 * 1024, fsync: true, preallocate: false });
      const sized = await runChild({ mode: 'raw-write', totalBytes, chunkBytes: 1024 * 1024, fsync: true, preallocate: true });
      r.raw.push(raw.bytesPerSec!);
      r.sized.push(sized.bytesPerSec!);
      r.recordOne.push(one.bytesPerSec!);
      r.recordOneMsgs.push(one.msgsPerSec!);
      r.recordThread.push(thread.bytesPerSec!);
      r.recordThreadMsgs.push(thread.msgsPerSec!);
      r.replayBytes.push(one.replayBytesPerSec ?? Number.NaN);
      r.replayMsgs.push(one.replayMsgsPerSec ?? Number.NaN);
      r.p50.push(one.latencyP50Us ?? Number.NaN);
      r.p99.push(one.latencyP99Us ?? Number.NaN);
      process.stdout.write(
        `archive ${size.id} rep ${rep + 1}/${repetitions}: raw ${(raw.bytesPerSec! / MB).toFixed(0)} MB/s (sized file ${(sized.bytesPerSec! / MB).toFixed(0)} MB/s), record ${(one.bytesPerSec! / MB).toFixed(0)} MB/s ` +
          `(publisher thread ${(thread.bytesPerSec! / MB).toFixed(0)} MB/s), replay ${((one.replayBytesPerSec ?? 0) / MB).toFixed(0)} MB/s\n`,
      );
    }
    results.push(r);
  }

  const lines: string[] = [];
  lines.push(`Record: an embedded Skein with an archive records its own IPC stream (term ${TERM_LENGTH / 1024 / 1024} MiB, sync level 0); MB/s of recorded log bytes (headers and padding included), medians (min–max) of ${repetitions} repetitions. Timed after an untimed warm-up, up to an fdatasync of the segment files. Raw: writeSync of the same bytes in 1 MiB pieces to one file, then fdatasync.`);
  lines.push('');
  lines.push('| size | messages | raw write MB/s | raw write, sized file, MB/s | record MB/s (one thread) | record MB/s (publisher thread) | record msgs/s (one thread) | msgs/s (publisher thread) |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    lines.push(
      `| ${r.size.id} | ${r.count} | ${fmt(spreadOf(r.raw), MB)} | ${fmt(spreadOf(r.sized), MB)} | ${fmt(spreadOf(r.recordOne), MB)} | ${fmt(spreadOf(r.recordThread), MB)} | ` +
        `${fmt(spreadOf(r.recordOneMsgs), 1)} | ${fmt(spreadOf(r.recordThreadMsgs), 1)} |`,
    );
  }
  lines.push('');
  lines.push('Ratios, repetition by repetition: median (min–max); the goal is recording at ≥ 0.8x the raw write rate (new file, as the issue measures it).');
  lines.push('');
  lines.push('| size | one thread / raw | publisher thread / raw | one thread / sized file | publisher thread / sized file | goal |');
  lines.push('|---|---:|---:|---:|---:|---|');
  let goalMet = true;
  const ratio = (a: number[], b: number[]): { text: string; median: number } => {
    const p = pairedRatio(a, b).paired;
    return { text: `${p.median.toFixed(2)} (${p.min.toFixed(2)}–${p.max.toFixed(2)})`, median: p.median };
  };
  for (const r of results) {
    const oneRaw = ratio(r.recordOne, r.raw);
    const threadRaw = ratio(r.recordThread, r.raw);
    const met = Math.max(oneRaw.median, threadRaw.median) >= RAW_RATIO_GOAL;
    goalMet &&= met;
    lines.push(`| ${r.size.id} | ${oneRaw.text} | ${threadRaw.text} | ${ratio(r.recordOne, r.sized).text} | ${ratio(r.recordThread, r.sized).text} | ≥ ${RAW_RATIO_GOAL}x raw: ${met ? 'met' : 'not met'} |`);
  }
  lines.push('');
  lines.push('| size | replay MB/s | replay msgs/s | offer → recorded p50 µs | p99 µs |');
  lines.push('|---|---:|---:|---:|---:|');
  for (const r of results) {
    lines.push(`| ${r.size.id} | ${fmt(spreadOf(r.replayBytes), MB)} | ${fmt(spreadOf(r.replayMsgs), 1)} | ${fmt(spreadOf(r.p50), 1, 1)} | ${fmt(spreadOf(r.p99), 1, 1)} |`);
  }
  lines.push('');
  lines.push('Offer → recorded: one message at a time, from the offer until the recording position passes it (default idle strategy; n/a at 64 KiB).');
  const markdown = lines.join('\n');
  process.stdout.write(`\n${markdown}\n`);
  const dir = options.resultsDir ?? DEFAULT_RESULTS_DIR;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${options.runStamp ?? fileStamp(new Date())}-archive.json`);
  writeFileSync(file, `${JSON.stringify({ repetitions, goalMet, results }, null, 2)}\n`);
  return { ok: true, title: 'Archive: record, replay, offer to recorded', markdown, files: [file] };
}
