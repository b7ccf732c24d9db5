/**
 * Self time per function from V8 `.cpuprofile` files (written by `node --cpu-prof`), added up
 * over several files: the "top self time" view of a profiler, as text.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface SelfTimeRow {
  readonly name: string;
  readonly location: string;
  readonly selfMs: number;
  /** Share of all sampled time, idle included. */
  readonly totalPct: number;
  /** Share of the time the thread was not idle. */
  readonly busyPct: number;
}

const IDLE = '(idle)';

/** Adds the self time of every function in `files`; rows sorted by self time, largest first. */
export function selfTimes(files: readonly string[]): SelfTimeRow[] {
  const byKey = new Map<string, { name: string; location: string; selfUs: number }>();
  let totalUs = 0;
  let idleUs = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    for (let i = 0; i < profile.samples.length; i++) {
      // A sample stands for the time until the next one.
      const us = profile.timeDeltas[i + 1] ?? 0;
      const frame = nodes.get(profile.samples[i]!)!.callFrame;
      const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
      const location = frame.url === '' ? '' : `${basename(frame.url)}:${frame.lineNumber + 1}`;
      const key = `${name}@${location}`;
      const row = byKey.get(key) ?? { name, location, selfUs: 0 };
      row.selfUs += us;
      byKey.set(key, row);
      totalUs += us;
      if (name === IDLE) idleUs += us;
    }
  }
  const busyUs = totalUs - idleUs;
  return [...byKey.values()]
    .sort((a, b) => b.selfUs - a.selfUs)
    .map((r) => ({
      name: r.name,
      location: r.location,
      selfMs: r.selfUs / 1000,
      totalPct: totalUs > 0 ? (r.selfUs * 100) / totalUs : 0,
      busyPct: busyUs > 0 && r.name !== IDLE ? (r.selfUs * 100) / busyUs : 0,
    }));
}

export function selfTimeTable(rows: readonly SelfTimeRow[], top: number): string {
  const lines = ['| self ms | % of busy | % of all | function | where |', '|---:|---:|---:|---|---|'];
  for (const r of rows.slice(0, top)) {
    lines.push(`| ${r.selfMs.toFixed(0)} | ${r.busyPct.toFixed(1)} | ${r.totalPct.toFixed(1)} | ${r.name} | ${r.location} |`);
  }
  return lines.join('\n');
}
