import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultSkeinDir, nodeStorage } from '../../../src/env/storage.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';

test('nodeStorage writes atomically, reads, lists and removes', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'skein-storage-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'a', 'b');
  assert.deepEqual(nodeStorage.list(dir), []);
  nodeStorage.mkdirs(dir);
  nodeStorage.mkdirs(dir);
  const file = join(dir, '1.json');
  assert.equal(nodeStorage.readFile(file), null);
  nodeStorage.writeFileAtomic(file, '{"v":1}');
  nodeStorage.writeFileAtomic(file, '{"v":2}');
  assert.equal(nodeStorage.readFile(file), '{"v":2}');
  nodeStorage.writeFileAtomic(join(dir, '0.json'), 'x');
  assert.deepEqual(nodeStorage.list(dir), ['0.json', '1.json'], 'no temporary files are left behind');
  nodeStorage.remove(file);
  nodeStorage.remove(file);
  assert.equal(nodeStorage.readFile(file), null);
  nodeStorage.remove(join(root, 'a'));
  assert.deepEqual(nodeStorage.list(root), []);
});

test('nodeStorage failures are SkeinErrors naming the path', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'skein-storage-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const missing = join(root, 'missing', 'x.json');
  assert.throws(
    () => nodeStorage.writeFileAtomic(missing, 'x'),
    (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.STORAGE_FAILED && e.message.includes(missing) && /ENOENT/.test(e.message),
  );
  assert.throws(() => nodeStorage.readFile(root), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.STORAGE_FAILED);
});

test('defaultSkeinDir honours SKEIN_DIR and otherwise names the user', () => {
  const saved = process.env['SKEIN_DIR'];
  try {
    process.env['SKEIN_DIR'] = '/tmp/skein-explicit';
    assert.equal(defaultSkeinDir(), '/tmp/skein-explicit');
    delete process.env['SKEIN_DIR'];
    assert.match(defaultSkeinDir(), /[\\/]skein-[^\\/]+$/);
  } finally {
    if (saved === undefined) delete process.env['SKEIN_DIR'];
    else process.env['SKEIN_DIR'] = saved;
  }
});
