/**
 * Finds the snapshots published by running Skein processes (for `skein stat` and `skein errors`).
 * Skipped: files whose process is gone (a process killed outright leaves its file behind until
 * the next Skein in that directory starts), and files not refreshed for {@link isStale}'s
 * time, whose pid another process may have taken since.
 */
import { listSnapshots, type Snapshot, type SnapshotFile } from '../agent/snapshot.js';
import { nodeStorage } from '../env/storage.js';
import { isProcessAlive } from '../env/process-liveness.js';

export { isProcessAlive };

/**
 * A snapshot not refreshed for 30 of its intervals (at least 30 s) belongs to no running Skein.
 * Only snapshots that say their interval (`extra.snapshotIntervalMs`) can be judged so.
 */
export function isStale(snapshot: Snapshot, nowEpochMs: number): boolean {
  const intervalMs = snapshot.extra?.['snapshotIntervalMs'];
  if (typeof intervalMs !== 'number') return false;
  return nowEpochMs - snapshot.snapshotAtMs > Math.max(30_000, 30 * intervalMs);
}

/** Snapshots in `dir` of live processes, by pid; only `pid`'s when given. */
export function liveSnapshots(dir: string, pid?: number): SnapshotFile[] {
  const nowEpochMs = Date.now();
  return listSnapshots(nodeStorage, dir).filter(
    (file) => (pid === undefined || file.pid === pid) && isProcessAlive(file.pid) && !isStale(file.snapshot, nowEpochMs),
  );
}

/** `2024-01-02 03:04:05.678` in local time. */
export function formatTime(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
