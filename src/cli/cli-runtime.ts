/**
 * Process plumbing shared by the commands: waiting without blocking the event loop, signals,
 * exit codes and one-line error reports. Exit codes: 0 success, 1 runtime failure (not connected,
 * timeout, verification failed), 2 bad usage (bad option or value), 130 a second interrupt (more
 * than a second after the first).
 */
import { SkeinError } from '../util/errors.js';
import type { Command } from 'commander';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

/** Error codes that mean the user asked for something invalid, reported with exit code 2. */
const USAGE_CODES = new Set(['ERR_SKEIN_URI_INVALID', 'ERR_SKEIN_URI_PARAM_INVALID', 'ERR_SKEIN_CONFIG_INVALID', 'ERR_SKEIN_CONFIG_UNKNOWN_OPTION']);

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Checks `condition` every `stepMs` until it holds (true) or `timeoutMs` passes (false); 0 = no limit. */
export async function waitUntil(condition: () => boolean, timeoutMs: number, stepMs = 2): Promise<boolean> {
  const deadline = timeoutMs > 0 ? performance.now() + timeoutMs : Number.POSITIVE_INFINITY;
  while (!condition()) {
    if (performance.now() >= deadline) return false;
    await sleep(stepMs);
  }
  return true;
}

/** Milliseconds since an arbitrary origin, with sub-microsecond resolution. */
export function nowMs(): number {
  return performance.now();
}

/**
 * A signal repeated within this time of the first is the same request, not an insistence: a
 * signal sent to a process group reaches the process twice when the sender also signals it
 * directly (`timeout -s INT` does both), and a busy process sees both at once.
 */
export const SIGNAL_REPEAT_GRACE_MS = 1000;

/**
 * Calls `handler` on the first SIGINT or SIGTERM, so the command can stop and print its summary.
 * A second signal more than {@link SIGNAL_REPEAT_GRACE_MS} after the first exits at once with
 * 130; one sooner is ignored. Returns a function that removes the listeners.
 */
export function onShutdownSignal(handler: (signal: NodeJS.Signals) => void): () => void {
  let signalledAtMs = -1;
  const listener = (signal: NodeJS.Signals): void => {
    if (signalledAtMs >= 0) {
      if (nowMs() - signalledAtMs < SIGNAL_REPEAT_GRACE_MS) return;
      process.stderr.write(`received ${signal} again, exiting now\n`);
      process.exit(EXIT_INTERRUPTED);
    }
    signalledAtMs = nowMs();
    handler(signal);
  };
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
  return () => {
    process.off('SIGINT', listener);
    process.off('SIGTERM', listener);
  };
}

/** Writes `stdoutText` (if any), then exits with `code` once the write has been flushed. */
export function exitProcess(code: number, stdoutText?: string): void {
  if (stdoutText === undefined || stdoutText === '') {
    process.exit(code);
  }
  process.stdout.write(stdoutText, () => process.exit(code));
}

/** Prints `skein <command>: <message>` on stderr. */
export function report(commandName: string, message: string): void {
  process.stderr.write(`skein ${commandName}: ${message}\n`);
}

/** Fails with a usage error (exit code 2) through commander, which prints `error: <message>`. */
export function usageError(command: Command, message: string): never {
  command.error(`error: ${message}`, { exitCode: EXIT_USAGE, code: 'skein.usage' });
  throw new Error('unreachable');
}

/**
 * Wraps an async command body: an error that escapes is reported on one line and ends the process
 * with 2 for configuration and URI errors, 1 otherwise.
 */
export function action<A extends unknown[]>(commandName: string, body: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A): Promise<void> => {
    try {
      await body(...args);
    } catch (error) {
      const usage = error instanceof SkeinError && USAGE_CODES.has(error.code);
      const text = error instanceof SkeinError ? `${error.message} (${error.code})` : error instanceof Error ? error.message : String(error);
      report(commandName, text);
      if (process.env['SKEIN_CLI_DEBUG'] === '1' && error instanceof Error && error.stack !== undefined) {
        process.stderr.write(`${error.stack}\n`);
      }
      process.exit(usage ? EXIT_USAGE : EXIT_FAILURE);
    }
  };
}
