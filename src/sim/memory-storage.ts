import type { Storage } from '../env/storage.js';

/**
 * Storage held in memory, for tests and simulations. Paths are plain strings joined with '/';
 * directories exist once created with mkdirs or implied by a written file.
 */
export class MemoryStorage implements Storage {
  private readonly files = new Map<string, string>();
  private readonly dirs = new Set<string>();

  writeFileAtomic(path: string, data: string): void {
    this.files.set(normalize(path), data);
  }

  readFile(path: string): string | null {
    return this.files.get(normalize(path)) ?? null;
  }

  mkdirs(path: string): void {
    let p = normalize(path);
    while (p !== '' && p !== '/') {
      this.dirs.add(p);
      p = parent(p);
    }
  }

  remove(path: string): void {
    const p = normalize(path);
    this.files.delete(p);
    this.dirs.delete(p);
    const prefix = `${p}/`;
    for (const f of [...this.files.keys()]) if (f.startsWith(prefix)) this.files.delete(f);
    for (const d of [...this.dirs]) if (d.startsWith(prefix)) this.dirs.delete(d);
  }

  list(dir: string): string[] {
    const prefix = `${normalize(dir)}/`;
    const names = new Set<string>();
    for (const p of [...this.files.keys(), ...this.dirs]) {
      if (p.startsWith(prefix)) names.add(p.slice(prefix.length).split('/')[0] as string);
    }
    return [...names].sort();
  }

  /** Every file path held, sorted. */
  paths(): string[] {
    return [...this.files.keys()].sort();
  }
}

function normalize(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

function parent(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '' : path.slice(0, slash);
}
