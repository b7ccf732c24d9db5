import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, SkeinError } from '../util/errors.js';

/**
 * Minimal file access for what a running process publishes (counter and error snapshots). Other
 * layers get a Storage from their context, so tests and the simulator can substitute their own.
 * Failures throw SkeinError with code ERR_SKEIN_STORAGE_FAILED naming the path.
 */
export interface Storage {
  /** Replaces the file's content atomically: readers see the old or the new content, never a mix. */
  writeFileAtomic(path: string, data: string): void;
  /** The file's content as UTF-8, or null when it does not exist. */
  readFile(path: string): string | null;
  /** Creates the directory and any missing parents; no-op when it exists. */
  mkdirs(path: string): void;
  /** Removes a file or a directory tree; no-op when it does not exist. */
  remove(path: string): void;
  /** Names of the entries of `dir`, sorted; empty when `dir` does not exist. */
  list(dir: string): string[];
}

let tmpSequence = 0;

/** Where an atomic write of `path` by process `pid` puts its data before renaming it over `path`. */
function atomicWriteTempPath(path: string, pid: number, sequence: number): string {
  return `${path}.${pid}.${sequence}.tmp`;
}

const ATOMIC_WRITE_TEMP_NAME = /^(.+)\.(\d+)\.\d+\.tmp$/;

/**
 * For the name of a file that an atomic write left behind (its writer died between writing and
 * renaming): the name it was meant to get, and the writer's pid; null for any other name.
 */
export function atomicWriteLeftover(fileName: string): { readonly target: string; readonly pid: number } | null {
  const match = ATOMIC_WRITE_TEMP_NAME.exec(fileName);
  return match === null ? null : { target: match[1]!, pid: Number(match[2]) };
}

/** ERR_SKEIN_STORAGE_FAILED naming the operation, the path and the system's reason (its errno code). */
export function storageError(operation: string, path: string, cause: unknown): SkeinError {
  const reason = (cause as NodeJS.ErrnoException | undefined)?.code ?? String(cause);
  return new SkeinError(ErrorCode.STORAGE_FAILED, `${operation} failed for path '${path}': ${reason}`, { cause });
}

export function isNotFound(cause: unknown): boolean {
  return (cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** Synchronous node:fs storage; atomic writes go to a temporary file in the same directory and are renamed over the target. */
export const nodeStorage: Storage = {
  writeFileAtomic(path: string, data: string): void {
    const tmpPath = atomicWriteTempPath(path, process.pid, ++tmpSequence);
    try {
      writeFileSync(tmpPath, data, 'utf8');
      renameSync(tmpPath, path);
    } catch (cause) {
      rmSync(tmpPath, { force: true });
      throw storageError('writeFileAtomic', path, cause);
    }
  },

  readFile(path: string): string | null {
    try {
      return readFileSync(path, 'utf8');
    } catch (cause) {
      if (isNotFound(cause)) return null;
      throw storageError('readFile', path, cause);
    }
  },

  mkdirs(path: string): void {
    try {
      mkdirSync(path, { recursive: true });
    } catch (cause) {
      throw storageError('mkdirs', path, cause);
    }
  },

  remove(path: string): void {
    try {
      rmSync(path, { force: true, recursive: true });
    } catch (cause) {
      throw storageError('remove', path, cause);
    }
  },

  list(dir: string): string[] {
    try {
      return readdirSync(dir).sort();
    } catch (cause) {
      if (isNotFound(cause)) return [];
      throw storageError('list', dir, cause);
    }
  },
};

function userName(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env['USER'] ?? String(process.getuid?.() ?? 'default');
  }
}

/**
 * Where a Skein process publishes its files: `SKEIN_DIR` when set, else `/dev/shm/skein-<user>`
 * when /dev/shm exists (memory-backed on Linux), else `<os tmpdir>/skein-<user>`.
 */
export function defaultSkeinDir(env: Record<string, string | undefined> = process.env): string {
  const fromEnv = env['SKEIN_DIR'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  return join(base, `skein-${userName()}`);
}
