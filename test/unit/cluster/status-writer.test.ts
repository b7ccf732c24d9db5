/**
 * StatusWriter keeps a member's status file current without blocking: writes go off the event
 * loop one at a time, a value given while one is in flight is written after it (values in between
 * skipped), `settled` waits for the last, and a failed write is reported while later ones go on.
 * Files without `writeLater` are written at once. And node files' `writeLater` replaces the file
 * through a temporary one that does not stay behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatusWriter, readJson } from '../../../src/cluster/cluster-control.js';
import { MemoryFiles } from '../../../src/env/memory-files.js';
import { nodeFiles, type Files } from '../../../src/env/files.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';

/** Memory files whose writeLater completes only when the test says. */
class LaterFiles extends MemoryFiles {
  readonly started: { path: string; text: string; finish: (error?: Error) => void }[] = [];

  writeLater(path: string, bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.started.push({
        path,
        text: new TextDecoder().decode(bytes),
        finish: (error) => {
          if (error !== undefined) {
            reject(error);
            return;
          }
          const file = this.open(path, 'create-or-open');
          file.truncate(0);
          file.write(bytes, 0, bytes.length, 0);
          file.close();
          resolve();
        },
      });
    });
  }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('status writer: one write in flight at a time, the newest value after it, settled after the last; a failure is reported and the next write goes on', async () => {
  const files = new LaterFiles();
  files.mkdirs('/m');
  const errors: unknown[] = [];
  const writer = new StatusWriter(files, '/m/status.json', (e) => errors.push(e));
  writer.write({ n: 1 });
  writer.write({ n: 2 });
  writer.write({ n: 3 });
  assert.deepEqual(files.started.map((w) => w.text), ['{"n":1}\n'], 'one write started; the others wait');
  let settled = false;
  void writer.settled().then(() => (settled = true));
  files.started[0]!.finish();
  await tick();
  assert.deepEqual(files.started.map((w) => w.text), ['{"n":1}\n', '{"n":3}\n'], 'then only the newest');
  assert.deepEqual(readJson(files, '/m/status.json'), { n: 1 });
  assert.equal(settled, false, 'not settled while the newest is in flight');
  files.started[1]!.finish();
  await tick();
  assert.equal(settled, true);
  assert.deepEqual(readJson(files, '/m/status.json'), { n: 3 });

  // A failed write: reported, the file keeps its content, the next write goes on.
  writer.write({ n: 4 });
  files.started[2]!.finish(new SkeinError(ErrorCode.STORAGE_FAILED, 'write failed for path /m/status.json.later.tmp: ENOSPC'));
  await writer.settled();
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /ENOSPC/);
  assert.deepEqual(readJson(files, '/m/status.json'), { n: 3 });
  writer.write({ n: 5 });
  files.started[3]!.finish();
  await writer.settled();
  assert.deepEqual(readJson(files, '/m/status.json'), { n: 5 });
  assert.equal(errors.length, 1);
});

test('status writer: files without writeLater are written at once, failures reported', async () => {
  const files = new MemoryFiles();
  files.mkdirs('/m');
  const errors: unknown[] = [];
  const writer = new StatusWriter(files, '/m/status.json', (e) => errors.push(e));
  writer.write({ role: 'LEADER' });
  assert.deepEqual(readJson(files, '/m/status.json'), { role: 'LEADER' });
  const missing = new StatusWriter(files, '/nowhere/status.json', (e) => errors.push(e));
  missing.write({ role: 'FOLLOWER' });
  await missing.settled();
  assert.equal(errors.length, 1, 'a write into a missing directory is reported');
});

test('node files: writeLater replaces the file and leaves no temporary file; a missing directory rejects naming the path', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-write-later-'));
  try {
    const files: Files = nodeFiles;
    await files.writeLater!(join(dir, 'status.json'), new TextEncoder().encode('{"a":1}\n'));
    await files.writeLater!(join(dir, 'status.json'), new TextEncoder().encode('{"a":2}\n'));
    assert.equal(readFileSync(join(dir, 'status.json'), 'utf8'), '{"a":2}\n');
    assert.deepEqual(readdirSync(dir), ['status.json']);
    await assert.rejects(files.writeLater!(join(dir, 'no', 'status.json'), new Uint8Array(1)), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.STORAGE_FAILED && e.message.includes(join(dir, 'no', 'status.json.later.tmp')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
