/**
 * Finds the snapshots published by running Skein processes (for `skein stat` and `skein errors`):
 * files whose process is gone (a crash leaves its file behind) are skipped.
 */
import { listSnapshots, type SnapshotFile } from '../agent/snapshot.js';
import { nodeStorage } from '../env/storage.js';

/** True when a process with this pid exists (EPERM means it exists but belongs to someone else). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Snapshots in `dir` of live processes, by pid; only `pid`'s when given. */
export function liveSnapshots(dir: string, pid?: number): SnapshotFile[] {
  return listSnapshots(nodeStorage, dir).filter((file) => (pid === undefined || file.pid === pid) && isProcessAlive(file.pid));
}

/** `2024-01-02 03:04:05.678` in local time. */
export function formatTime(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
