import { closeSync, existsSync, fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, renameSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { ErrorCode, SkeinError } from '../util/errors.js';
import { isNotFound, nodeStorage, storageError } from './storage.js';

/**
 * Binary files with random access, for what the archive keeps on disk (segment files, the catalog,
 * the mark file). The archive gets a {@link Files} from its context, so tests and the simulator
 * can give it files in memory, a small capacity or a failing disk. Every call is synchronous;
 * failures throw SkeinError ERR_SKEIN_STORAGE_FAILED naming the operation, the path and the
 * system's reason (ENOSPC for a full disk), with the original error as cause.
 */
export interface Files {
  /** Opens a file; `create` makes it (and fails if it exists unless `mode` is 'create-or-open'). */
  open(path: string, mode: FileOpenMode): FileHandle;
  /** Whether a file or directory exists at `path`. */
  exists(path: string): boolean;
  /** Names of the entries of `dir`, sorted; empty when `dir` does not exist. */
  list(dir: string): string[];
  /** Creates the directory and any missing parents; no-op when it exists. */
  mkdirs(path: string): void;
  /** Renames a file, replacing `to` if it exists. */
  rename(from: string, to: string): void;
  /** Removes a file; no-op when it does not exist. */
  remove(path: string): void;
  /** Bytes a new write to the file system holding `dir` can still use. */
  usableSpace(dir: string): number;
  /**
   * Where the implementation can: replaces `path` with `bytes` off the event loop (a temporary
   * file `<path>.later.tmp`, then a rename; no sync: for files a crash may lose, such as a
   * status), resolving when done and rejecting with ERR_SKEIN_STORAGE_FAILED. One write per path
   * at a time is the caller's to keep. Without it, callers write synchronously.
   */
  writeLater?(path: string, bytes: Uint8Array): Promise<void>;
}

/** 'read': existing file, read only; 'write': existing file; 'create': a new file; 'create-or-open': either. */
export type FileOpenMode = 'read' | 'write' | 'create' | 'create-or-open';

export interface FileHandle {
  readonly path: string;
  /** Writes `length` bytes of `data` from `offset` at file position `position`, all of them. */
  write(data: Uint8Array, offset: number, length: number, position: number): void;
  /** Reads up to `length` bytes at `position` into `into` at `offset`; returns how many (fewer at the end of the file). */
  read(into: Uint8Array, offset: number, length: number, position: number): number;
  /** The file's length in bytes. */
  size(): number;
  /** Sets the file's length; a longer file reads as zeros beyond its old end (sparse where supported). */
  truncate(length: number): void;
  /** Flushes written data to the device; with `metadata` also the file's metadata (fsync, else fdatasync). */
  sync(metadata: boolean): void;
  /** Closes the file; idempotent. */
  close(): void;
}

const OPEN_FLAGS: Readonly<Record<FileOpenMode, string>> = { read: 'r', write: 'r+', create: 'wx+', 'create-or-open': 'r+' };

class NodeFileHandle implements FileHandle {
  private fd: number;

  constructor(
    readonly path: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  write(data: Uint8Array, offset: number, length: number, position: number): void {
    const fd = this.openFd();
    try {
      let written = 0;
      while (written < length) written += writeSync(fd, data, offset + written, length - written, position + written);
    } catch (cause) {
      throw storageError('write', this.path, cause);
    }
  }

  read(into: Uint8Array, offset: number, length: number, position: number): number {
    const fd = this.openFd();
    try {
      let total = 0;
      while (total < length) {
        const n = readSync(fd, into, offset + total, length - total, position + total);
        if (n === 0) break;
        total += n;
      }
      return total;
    } catch (cause) {
      throw storageError('read', this.path, cause);
    }
  }

  size(): number {
    const fd = this.openFd();
    try {
      return fstatSync(fd).size;
    } catch (cause) {
      throw storageError('size', this.path, cause);
    }
  }

  truncate(length: number): void {
    const fd = this.openFd();
    try {
      ftruncateSync(fd, length);
    } catch (cause) {
      throw storageError('truncate', this.path, cause);
    }
  }

  sync(metadata: boolean): void {
    const fd = this.openFd();
    try {
      if (metadata) fsyncSync(fd);
      else fdatasyncSync(fd);
    } catch (cause) {
      throw storageError(metadata ? 'fsync' : 'fdatasync', this.path, cause);
    }
  }

  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      closeSync(fd);
    } catch (cause) {
      throw storageError('close', this.path, cause);
    }
  }

  private openFd(): number {
    if (this.fd < 0) throw new SkeinError(ErrorCode.STORAGE_FAILED, `file '${this.path}' is closed`);
    return this.fd;
  }
}

/** node:fs files. `create-or-open` opens read-write without truncating (O_CREAT). */
export const nodeFiles: Files = {
  open(path: string, mode: FileOpenMode): FileHandle {
    try {
      const fd = mode === 'create-or-open' ? openSync(path, 'r+', 0o644) : openSync(path, OPEN_FLAGS[mode], 0o644);
      return new NodeFileHandle(path, fd);
    } catch (cause) {
      if (mode === 'create-or-open' && isNotFound(cause)) {
        try {
          return new NodeFileHandle(path, openSync(path, 'wx+', 0o644));
        } catch (again) {
          throw storageError('open', path, again);
        }
      }
      throw storageError('open', path, cause);
    }
  },

  exists(path: string): boolean {
    return existsSync(path);
  },

  list(dir: string): string[] {
    return nodeStorage.list(dir);
  },

  mkdirs(path: string): void {
    nodeStorage.mkdirs(path);
  },

  rename(from: string, to: string): void {
    try {
      renameSync(from, to);
    } catch (cause) {
      throw storageError('rename', `${from}' -> '${to}`, cause);
    }
  },

  remove(path: string): void {
    try {
      rmSync(path, { force: true });
    } catch (cause) {
      throw storageError('remove', path, cause);
    }
  },

  usableSpace(dir: string): number {
    try {
      const s = statfsSync(dir);
      return s.bavail * s.bsize;
    } catch (cause) {
      throw storageError('usableSpace', dir, cause);
    }
  },

  async writeLater(path: string, bytes: Uint8Array): Promise<void> {
    const temp = `${path}.later.tmp`;
    try {
      await writeFile(temp, bytes);
    } catch (cause) {
      throw storageError('write', temp, cause);
    }
    try {
      await rename(temp, path);
    } catch (cause) {
      throw storageError('rename', `${temp}' -> '${path}`, cause);
    }
  },
};

/**
 * Replaces `path` with `bytes` whole or not at all: writes a temporary file beside it (one a crash
 * left behind is removed first), flushes it to the device (unless `sync` is false: for files a
 * crash may lose, such as a status), and renames it over `path`.
 */
export function writeFileAtomically(files: Files, path: string, bytes: Uint8Array, options: { sync?: boolean } = {}): void {
  const temp = `${path}.tmp`;
  if (files.exists(temp)) files.remove(temp);
  const file = files.open(temp, 'create');
  try {
    file.write(bytes, 0, bytes.length, 0);
    if (options.sync ?? true) file.sync(true);
  } finally {
    file.close();
  }
  files.rename(temp, path);
}
