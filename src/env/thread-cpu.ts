/**
 * CPU time of the calling thread, for the idle strategy's contention check.
 *
 * On Linux it is read from `/proc/thread-self/schedstat` (its first field: nanoseconds this thread
 * has run), through a descriptor kept open and read again from offset 0: one `pread` of the
 * caller's own counters, a few microseconds. `process.cpuUsage()` (getrusage of the whole
 * process) was measured at up to 10-17 ms a call, and 7-39 ms a second at 45 calls a second, in
 * cluster members on two busy virtual CPUs: it sums every thread's time and waits for the other
 * CPU's scheduler to do so, so the check meant to spot a busy CPU stalled the duty cycle
 * instead. Elsewhere (no such file) the process's total from `process.cpuUsage()` stands in.
 *
 * The descriptor is opened on the first call from a thread: a module instance belongs to one
 * thread (each worker loads its own), so each thread reads its own file. It stays open for the
 * thread's life: Node closes the descriptors a worker opened when the worker stops (ten workers
 * terminated after opening theirs left the process's count of descriptors as it was).
 */
import { openSync, readSync } from 'node:fs';

const SCHEDSTAT = '/proc/thread-self/schedstat';
/** Not tried yet. */
const UNTRIED = -2;
/** Not available: use process.cpuUsage(). */
const UNAVAILABLE = -1;

let fd = UNTRIED;
const text = new Uint8Array(64);

/** Microseconds of CPU this thread has used (the whole process's where the thread's own is not readable). */
export function threadCpuUs(): number {
  if (fd === UNTRIED) {
    try {
      fd = openSync(SCHEDSTAT, 'r');
    } catch {
      fd = UNAVAILABLE;
    }
  }
  if (fd >= 0) {
    try {
      const length = readSync(fd, text, 0, text.length, 0);
      let ns = 0;
      let digits = 0;
      for (let i = 0; i < length; i++) {
        const c = text[i]!;
        if (c < 0x30 || c > 0x39) break;
        ns = ns * 10 + (c - 0x30);
        digits++;
      }
      if (digits > 0) return ns / 1000;
    } catch {
      // Unreadable after all (a closed descriptor): from now on the process's total.
    }
    fd = UNAVAILABLE;
  }
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}
