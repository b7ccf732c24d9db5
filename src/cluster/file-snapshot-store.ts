/**
 * Snapshots on files (docs/cluster.md, "Members on Skein"), for members whose log is a file: one
 * file per snapshot in the member's `snapshots` directory, `<id>.snapshot`, written whole to a
 * temporary name, synced and renamed, so a snapshot the recording log names is complete. Ids
 * count up from the highest present. (Members whose log is an archive recording keep their
 * snapshots as recordings too: ArchiveSnapshotStore.)
 */
import { writeFileAtomically, type Files } from '../env/files.js';
import { ErrorCode, SkeinError, messageOf } from '../util/errors.js';
import type { SnapshotStore } from './cluster-node.js';

const SUFFIX = '.snapshot';

export class FileSnapshotStore implements SnapshotStore {
  private readonly files: Files;
  private readonly dir: string;
  private nextId: number;

  constructor(files: Files, dir: string) {
    this.files = files;
    this.dir = dir;
    files.mkdirs(dir);
    let max = -1;
    for (const name of files.list(dir)) {
      if (!name.endsWith(SUFFIX)) continue;
      const id = Number(name.slice(0, -SUFFIX.length));
      if (Number.isSafeInteger(id) && id > max) max = id;
    }
    this.nextId = max + 1;
  }

  write(bytes: Uint8Array): number {
    const id = this.nextId++;
    const path = `${this.dir}/${id}${SUFFIX}`;
    try {
      writeFileAtomically(this.files, path, bytes);
    } catch (e) {
      throw new SkeinError(ErrorCode.STORAGE_FAILED, `cannot write snapshot ${path} (${bytes.length} bytes): ${messageOf(e)}`, { cause: e });
    }
    return id;
  }

  read(recordingId: number): Uint8Array | undefined {
    const path = `${this.dir}/${recordingId}${SUFFIX}`;
    if (!this.files.exists(path)) return undefined;
    const file = this.files.open(path, 'read');
    try {
      const bytes = new Uint8Array(file.size());
      file.read(bytes, 0, bytes.length, 0);
      return bytes;
    } finally {
      file.close();
    }
  }
}
