/** node:fs files for the archive: open modes, positioned writes and reads, sparse growth, sync, and errors that name the path and reason. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeFiles } from '../../../src/env/files.js';
import { MemoryFiles } from '../../../src/env/memory-files.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';

const isStorageError = (fragment: string) => (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.STORAGE_FAILED && e.message.includes(fragment);

test('node files: create, write at positions, read back, grow sparse, rename, list, remove', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-files-'));
  try {
    const path = join(dir, 'a', 'f.bin');
    assert.throws(() => nodeFiles.open(path, 'create'), isStorageError(`'${path}': ENOENT`));
    nodeFiles.mkdirs(join(dir, 'a'));
    const f = nodeFiles.open(path, 'create');
    f.write(new Uint8Array([1, 2, 3, 4, 5]), 1, 3, 10);
    assert.equal(f.size(), 13);
    f.truncate(1 << 20);
    assert.equal(f.size(), 1 << 20);
    const back = new Uint8Array(8);
    assert.equal(f.read(back, 0, 8, 8), 8);
    assert.deepEqual([...back], [0, 0, 2, 3, 4, 0, 0, 0]);
    assert.equal(f.read(back, 0, 8, (1 << 20) - 3), 3, 'a read at the end returns what is there');
    f.sync(false);
    f.sync(true);
    f.close();
    f.close();
    assert.throws(() => f.size(), isStorageError('is closed'));
    assert.throws(() => nodeFiles.open(path, 'create'), isStorageError('EEXIST'));
    const again = nodeFiles.open(path, 'create-or-open');
    assert.equal(again.size(), 1 << 20, 'create-or-open keeps the content');
    again.close();
    const fresh = nodeFiles.open(join(dir, 'a', 'g.bin'), 'create-or-open');
    fresh.close();
    assert.deepEqual(nodeFiles.list(join(dir, 'a')), ['f.bin', 'g.bin']);
    nodeFiles.rename(join(dir, 'a', 'g.bin'), join(dir, 'a', 'h.bin'));
    assert.ok(nodeFiles.exists(join(dir, 'a', 'h.bin')) && !nodeFiles.exists(join(dir, 'a', 'g.bin')));
    nodeFiles.remove(join(dir, 'a', 'h.bin'));
    nodeFiles.remove(join(dir, 'a', 'h.bin'));
    assert.deepEqual(nodeFiles.list(join(dir, 'a')), ['f.bin']);
    assert.deepEqual(nodeFiles.list(join(dir, 'missing')), []);
    const ro = nodeFiles.open(path, 'read');
    assert.throws(() => ro.write(new Uint8Array(1), 0, 1, 0), isStorageError(`write failed for path '${path}': EBADF`));
    ro.close();
    assert.ok(nodeFiles.usableSpace(dir) > 0);
    assert.throws(() => nodeFiles.usableSpace(join(dir, 'missing')), isStorageError('usableSpace'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('memory files: the same contract, a capacity that fails writes with ENOSPC, and injected write faults', () => {
  const files = new MemoryFiles({ capacityBytes: 100 });
  assert.throws(() => files.open('/d/f', 'create'), isStorageError('ENOENT'));
  files.mkdirs('/d');
  const f = files.open('/d/f', 'create');
  f.truncate(1 << 20);
  assert.equal(files.usedBytes, 0, 'a sparse length takes no space');
  f.write(new Uint8Array(60), 0, 60, 0);
  assert.throws(() => f.write(new Uint8Array(60), 0, 60, 60), isStorageError(`write failed for path '/d/f': ENOSPC`));
  f.write(new Uint8Array(60), 0, 60, 0);
  assert.equal(files.usableSpace('/d'), 40);
  files.failWrites('EIO');
  assert.throws(() => f.write(new Uint8Array(1), 0, 1, 0), isStorageError('EIO'));
  files.failWrites(null);
  assert.throws(() => files.open('/d/f', 'create'), isStorageError('EEXIST'));
  assert.deepEqual(files.list('/'), ['d']);
  assert.deepEqual(files.list('/d'), ['f']);
  f.close();
  assert.throws(() => f.read(new Uint8Array(1), 0, 1, 0), isStorageError('is closed'));
});
