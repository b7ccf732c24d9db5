import { ErrorCode, SkeinError } from '../util/errors.js';
import type { FileHandle, FileOpenMode, Files } from './files.js';

export interface MemoryFilesOptions {
  /**
   * Bytes the "device" holds: a write that would take the files' written bytes past it fails
   * with ENOSPC, as a full disk does (bytes only reserved by `truncate` do not count: sparse).
   */
  readonly capacityBytes?: number;
}

interface MemoryFile {
  bytes: Uint8Array;
  size: number;
  /** End of the furthest write: what the file takes on the device. */
  written: number;
}

function errnoError(code: string, operation: string, path: string): SkeinError {
  const cause = Object.assign(new Error(`${code}: ${operation} '${path}'`), { code });
  return new SkeinError(ErrorCode.STORAGE_FAILED, `${operation} failed for path '${path}': ${code}`, { cause });
}

/**
 * {@link Files} held in memory, for tests and the simulator: directories are implied by paths,
 * a capacity makes writes fail with ENOSPC, and {@link failWrites} makes every later write fail
 * (a device error), so storage failures can be driven from a test.
 */
export class MemoryFiles implements Files {
  private readonly files = new Map<string, MemoryFile>();
  private readonly dirs = new Set<string>(['/']);
  private capacityBytes: number;
  private writeFault: string | null = null;
  /** Calls to sync, for tests of the sync levels. */
  syncCount = 0;
  metadataSyncCount = 0;

  constructor(options: MemoryFilesOptions = {}) {
    this.capacityBytes = options.capacityBytes ?? Number.MAX_SAFE_INTEGER;
  }

  /** Bytes all files take (the furthest write of each). */
  get usedBytes(): number {
    let used = 0;
    for (const f of this.files.values()) used += f.written;
    return used;
  }

  /** Bytes one file takes on the "device" (its furthest write), or null when it does not exist. */
  allocatedOf(path: string): number | null {
    return this.files.get(path)?.written ?? null;
  }

  setCapacity(capacityBytes: number): void {
    this.capacityBytes = capacityBytes;
  }

  /** Every later write fails with `code` (e.g. 'EIO'); null restores writing. */
  failWrites(code: string | null): void {
    this.writeFault = code;
  }

  /** The whole content of a file (a copy), or null. */
  contentOf(path: string): Uint8Array | null {
    const f = this.files.get(path);
    return f === undefined ? null : f.bytes.slice(0, f.size);
  }

  open(path: string, mode: FileOpenMode): FileHandle {
    let file = this.files.get(path);
    if (file === undefined) {
      if (mode === 'read' || mode === 'write') throw errnoError('ENOENT', 'open', path);
      if (!this.dirs.has(parentOf(path))) throw errnoError('ENOENT', 'open', path);
      file = { bytes: new Uint8Array(0), size: 0, written: 0 };
      this.files.set(path, file);
    } else if (mode === 'create') {
      throw errnoError('EEXIST', 'open', path);
    }
    return new MemoryFileHandle(this, path, mode === 'read');
  }

  exists(path: string): boolean {
    return this.files.has(path) || this.dirs.has(path);
  }

  list(dir: string): string[] {
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    const names = new Set<string>();
    for (const p of [...this.files.keys(), ...this.dirs]) {
      if (p.startsWith(prefix) && p.length > prefix.length) names.add(p.slice(prefix.length).split('/')[0]!);
    }
    return [...names].sort();
  }

  mkdirs(path: string): void {
    let p = path.replace(/\/+$/, '');
    while (p !== '' && p !== '/') {
      if (this.files.has(p)) throw errnoError('ENOTDIR', 'mkdirs', path);
      this.dirs.add(p);
      p = parentOf(p);
    }
  }

  rename(from: string, to: string): void {
    const f = this.files.get(from);
    if (f === undefined) throw errnoError('ENOENT', 'rename', from);
    this.files.delete(from);
    this.files.set(to, f);
  }

  remove(path: string): void {
    this.files.delete(path);
  }

  usableSpace(_dir: string): number {
    return Math.max(0, this.capacityBytes - this.usedBytes);
  }

  /** @internal */
  fileOf(path: string): MemoryFile {
    const f = this.files.get(path);
    if (f === undefined) throw errnoError('ENOENT', 'access', path);
    return f;
  }

  /** @internal */
  checkWrite(path: string, file: MemoryFile, end: number): void {
    if (this.writeFault !== null) throw errnoError(this.writeFault, 'write', path);
    const growth = Math.max(0, end - file.written);
    if (growth > 0 && this.usedBytes + growth > this.capacityBytes) throw errnoError('ENOSPC', 'write', path);
  }
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

function ensureLength(file: MemoryFile, length: number): void {
  if (file.bytes.length >= length) return;
  const grown = new Uint8Array(Math.max(length, file.bytes.length * 2, 4096));
  grown.set(file.bytes.subarray(0, file.size));
  file.bytes = grown;
}

class MemoryFileHandle implements FileHandle {
  private closed = false;

  constructor(
    private readonly owner: MemoryFiles,
    readonly path: string,
    private readonly readOnly: boolean,
  ) {}

  write(data: Uint8Array, offset: number, length: number, position: number): void {
    const file = this.file('write');
    if (this.readOnly) throw errnoError('EBADF', 'write', this.path);
    const end = position + length;
    this.owner.checkWrite(this.path, file, end);
    ensureLength(file, end);
    file.bytes.set(data.subarray(offset, offset + length), position);
    if (end > file.size) file.size = end;
    if (end > file.written) file.written = end;
  }

  read(into: Uint8Array, offset: number, length: number, position: number): number {
    const file = this.file('read');
    const n = Math.max(0, Math.min(length, file.size - position));
    if (n > 0) into.set(file.bytes.subarray(position, position + n), offset);
    return n;
  }

  size(): number {
    return this.file('size').size;
  }

  truncate(length: number): void {
    const file = this.file('truncate');
    if (this.readOnly) throw errnoError('EBADF', 'truncate', this.path);
    if (length > file.size) ensureLength(file, length);
    else file.bytes.fill(0, length, file.size);
    file.size = length;
    if (file.written > length) file.written = length;
  }

  sync(metadata: boolean): void {
    this.file('sync');
    this.owner.syncCount++;
    if (metadata) this.owner.metadataSyncCount++;
  }

  close(): void {
    this.closed = true;
  }

  private file(operation: string): MemoryFile {
    if (this.closed) throw new SkeinError(ErrorCode.STORAGE_FAILED, `${operation} failed: file '${this.path}' is closed`);
    return this.owner.fileOf(this.path);
  }
}
