import { ErrorCode, SkeinError } from '../util/errors.js';
import type { EpochClock } from '../env/clock.js';
import { atomicWriteLeftover, type Storage } from '../env/storage.js';
import type { Agent } from './agent.js';
import type { CountersManager } from './counters.js';
import type { DistinctErrorLog, ErrorLogEntry } from './distinct-error-log.js';

/**
 * What a running Skein process publishes about itself so that `skein stat` and `skein errors` in
 * another process can read it: a JSON document
 *
 * ```
 * { "format": "skein-snapshot", "version": 1, "pid": 1234,
 *   "startedAtMs": …, "snapshotAtMs": …,
 *   "counters": [ { "id": 0, "typeId": 0, "label": "Bytes sent", "value": 42,
 *                   "registrationId"?: …, "sessionId"?: …, "streamId"?: …, "channel"?: … }, … ],
 *   "errors": [ { "observationCount": 3, "firstObservationMs": …, "lastObservationMs": …,
 *                 "code"?: "ERR_SKEIN_…", "message": "…", "stack": "…" }, … ],
 *   "errorOverflowCount": 0,
 *   "extra"?: { … } }
 * ```
 *
 * written atomically to `<dir>/<pid>.json`. Counter values that are not finite are written as null.
 */
export const SNAPSHOT_FORMAT = 'skein-snapshot';
export const SNAPSHOT_VERSION = 1;

export interface SnapshotCounter {
  id: number;
  typeId: number;
  label: string;
  /** NaN when the counter did not hold a finite number. */
  value: number;
  registrationId?: number;
  sessionId?: number;
  streamId?: number;
  channel?: string;
}

export interface Snapshot {
  format: typeof SNAPSHOT_FORMAT;
  version: number;
  pid: number;
  startedAtMs: number;
  snapshotAtMs: number;
  counters: SnapshotCounter[];
  errors: ErrorLogEntry[];
  errorOverflowCount: number;
  extra?: Record<string, unknown>;
}

export interface SnapshotSource {
  pid: number;
  startedAtMs: number;
  snapshotAtMs: number;
  counters: CountersManager;
  errors: DistinctErrorLog;
  extra?: object;
}

export function encodeSnapshot(source: SnapshotSource): string {
  const counters: SnapshotCounter[] = [];
  const manager = source.counters;
  manager.forEach((id, typeId, value, label) => {
    counters.push({ id, typeId, label, value, ...manager.key(id) });
  });
  const snapshot: Snapshot = {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    pid: source.pid,
    startedAtMs: source.startedAtMs,
    snapshotAtMs: source.snapshotAtMs,
    counters,
    errors: [...source.errors.entries()],
    errorOverflowCount: source.errors.overflowCount,
  };
  if (source.extra !== undefined) snapshot.extra = { ...source.extra };
  return JSON.stringify(snapshot);
}

/** Parses and validates a snapshot; throws SkeinError ERR_SKEIN_SNAPSHOT_INVALID naming the bad field. */
export function decodeSnapshot(text: string): Snapshot {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new SkeinError(ErrorCode.SNAPSHOT_INVALID, `snapshot is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  const o = record(raw, 'snapshot');
  if (o['format'] !== SNAPSHOT_FORMAT) {
    throw invalid('snapshot.format', o['format'], `'${SNAPSHOT_FORMAT}'`);
  }
  const version = integer(o, 'version', 'snapshot');
  if (version !== SNAPSHOT_VERSION) throw invalid('snapshot.version', version, String(SNAPSHOT_VERSION));
  const snapshot: Snapshot = {
    format: SNAPSHOT_FORMAT,
    version,
    pid: integer(o, 'pid', 'snapshot'),
    startedAtMs: number(o, 'startedAtMs', 'snapshot'),
    snapshotAtMs: number(o, 'snapshotAtMs', 'snapshot'),
    counters: array(o, 'counters', 'snapshot').map((c, i) => decodeCounter(c, `snapshot.counters[${i}]`)),
    errors: array(o, 'errors', 'snapshot').map((e, i) => decodeError(e, `snapshot.errors[${i}]`)),
    errorOverflowCount: integer(o, 'errorOverflowCount', 'snapshot'),
  };
  if (o['extra'] !== undefined) snapshot.extra = record(o['extra'], 'snapshot.extra');
  return snapshot;
}

function decodeCounter(raw: unknown, where: string): SnapshotCounter {
  const o = record(raw, where);
  const value = o['value'] === null ? Number.NaN : number(o, 'value', where);
  const counter: SnapshotCounter = {
    id: integer(o, 'id', where),
    typeId: integer(o, 'typeId', where),
    label: string(o, 'label', where),
    value,
  };
  for (const key of ['registrationId', 'sessionId', 'streamId'] as const) {
    if (o[key] !== undefined) counter[key] = integer(o, key, where);
  }
  if (o['channel'] !== undefined) counter.channel = string(o, 'channel', where);
  return counter;
}

function decodeError(raw: unknown, where: string): ErrorLogEntry {
  const o = record(raw, where);
  return {
    observationCount: integer(o, 'observationCount', where),
    firstObservationMs: number(o, 'firstObservationMs', where),
    lastObservationMs: number(o, 'lastObservationMs', where),
    code: o['code'] === undefined ? undefined : string(o, 'code', where),
    message: string(o, 'message', where),
    stack: string(o, 'stack', where),
  };
}

function record(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(where, value, 'an object');
  return value as Record<string, unknown>;
}

function array(o: Record<string, unknown>, key: string, where: string): unknown[] {
  const value = o[key];
  if (!Array.isArray(value)) throw invalid(`${where}.${key}`, value, 'an array');
  return value;
}

function number(o: Record<string, unknown>, key: string, where: string): number {
  const value = o[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`${where}.${key}`, value, 'a finite number');
  return value;
}

function integer(o: Record<string, unknown>, key: string, where: string): number {
  const value = o[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw invalid(`${where}.${key}`, value, 'a safe integer');
  return value;
}

function string(o: Record<string, unknown>, key: string, where: string): string {
  const value = o[key];
  if (typeof value !== 'string') throw invalid(`${where}.${key}`, value, 'a string');
  return value;
}

function invalid(field: string, value: unknown, expected: string): SkeinError {
  const shown = value === undefined ? 'missing' : JSON.stringify(value)?.slice(0, 80);
  return new SkeinError(ErrorCode.SNAPSHOT_INVALID, `snapshot field ${field} is ${shown}; expected ${expected}`);
}

export interface SnapshotPublisherOptions {
  storage: Storage;
  /** Directory the snapshot file goes in; created on start. */
  dir: string;
  pid: number;
  startedAtMs: number;
  counters: CountersManager;
  errors: DistinctErrorLog;
  epochClock: EpochClock;
  /** @default 1000 */
  intervalMs?: number;
  /** Extra fields to include, asked for at each publication. */
  extra?: () => object | undefined;
  /**
   * Tells whether a process runs: on start, snapshot files of processes that are gone (killed
   * outright, so nothing removed their file) are removed. Omitted: nothing is removed.
   */
  isProcessAlive?: (pid: number) => boolean;
}

export const DEFAULT_SNAPSHOT_INTERVAL_MS = 1000;

/**
 * An agent that writes the process's snapshot to `<dir>/<pid>.json` on its first duty cycle and
 * then every `intervalMs` (measured with the duty cycle's nowNs), and removes the file on close.
 */
export class SnapshotPublisher implements Agent {
  readonly roleName = 'snapshot-publisher';
  /** Where the snapshot is written. */
  readonly path: string;
  private readonly intervalNs: number;
  private deadlineNs = Number.NEGATIVE_INFINITY;
  private publications = 0;
  private fileWritten = false;

  constructor(private readonly options: SnapshotPublisherOptions) {
    const intervalMs = options.intervalMs ?? DEFAULT_SNAPSHOT_INTERVAL_MS;
    if (!(Number.isFinite(intervalMs) && intervalMs > 0)) {
      throw new SkeinError(
        ErrorCode.CONFIG_INVALID,
        `snapshot intervalMs=${String(options.intervalMs)} is invalid; expected a number > 0`,
      );
    }
    this.intervalNs = Math.round(intervalMs * 1_000_000);
    this.path = snapshotPath(options.dir, options.pid);
  }

  /** Snapshots written so far. */
  get publicationCount(): number {
    return this.publications;
  }

  /**
   * Creates the directory and removes files that dead processes left there: their snapshots, and
   * the temporary file of an atomic write that a process killed during it left behind.
   */
  onStart(): void {
    const { storage, dir, isProcessAlive } = this.options;
    storage.mkdirs(dir);
    if (isProcessAlive === undefined) return;
    for (const name of storage.list(dir)) {
      const match = SNAPSHOT_FILE_PATTERN.exec(name);
      if (match !== null) {
        const pid = Number(match[1]);
        if (pid !== this.options.pid && !isProcessAlive(pid)) storage.remove(snapshotPath(dir, pid));
        continue;
      }
      const leftover = atomicWriteLeftover(name);
      if (leftover === null || !SNAPSHOT_FILE_PATTERN.test(leftover.target)) continue;
      if (leftover.pid !== this.options.pid && !isProcessAlive(leftover.pid)) storage.remove(inDir(dir, name));
    }
  }

  doWork(nowNs: number): number {
    if (nowNs < this.deadlineNs) return 0;
    this.deadlineNs = nowNs + this.intervalNs;
    this.publish();
    return 1;
  }

  /** Writes the snapshot now. */
  publish(): void {
    const o = this.options;
    const extra = { ...o.extra?.(), snapshotIntervalMs: this.intervalNs / 1_000_000 };
    const text = encodeSnapshot({
      pid: o.pid,
      startedAtMs: o.startedAtMs,
      snapshotAtMs: o.epochClock.epochMs(),
      counters: o.counters,
      errors: o.errors,
      extra,
    });
    o.storage.writeFileAtomic(this.path, text);
    this.publications++;
    this.fileWritten = true;
  }

  onClose(): void {
    this.removeFile();
  }

  /** Removes this process's file (once it was written); safe at process exit. Idempotent. */
  removeFile(): void {
    if (!this.fileWritten) return;
    this.fileWritten = false;
    this.options.storage.remove(this.path);
  }
}

export interface SnapshotFile {
  pid: number;
  path: string;
  snapshot: Snapshot;
}

const SNAPSHOT_FILE_PATTERN = /^(\d+)\.json$/;

function inDir(dir: string, name: string): string {
  return `${dir.endsWith('/') ? dir.slice(0, -1) : dir}/${name}`;
}

export function snapshotPath(dir: string, pid: number): string {
  return inDir(dir, `${pid}.json`);
}

/**
 * The snapshots in `dir`, by pid. Files that vanish while being read or do not decode are skipped;
 * whether each pid is still alive is for the caller to check.
 */
export function listSnapshots(storage: Storage, dir: string): SnapshotFile[] {
  const result: SnapshotFile[] = [];
  for (const name of storage.list(dir)) {
    const match = SNAPSHOT_FILE_PATTERN.exec(name);
    if (match === null) continue;
    const path = snapshotPath(dir, Number(match[1]));
    const text = storage.readFile(path);
    if (text === null) continue;
    try {
      const snapshot = decodeSnapshot(text);
      result.push({ pid: snapshot.pid, path, snapshot });
    } catch (e) {
      if (!(e instanceof SkeinError)) throw e;
    }
  }
  return result.sort((a, b) => a.pid - b.pid);
}
