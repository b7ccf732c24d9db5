/** Archive options: Aeron's defaults, the environment, and one error naming every bad value. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveArchiveSettings } from '../../../src/archive/archive-context.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';

test("defaults are Aeron's; options and SKEIN_ARCHIVE_* override them", () => {
  const d = resolveArchiveSettings();
  assert.equal(d.controlChannel, 'aeron:udp?endpoint=localhost:8010');
  assert.equal(d.localControlChannel, 'aeron:ipc?term-length=64k');
  assert.equal(d.controlStreamId, 10);
  assert.equal(d.connectTimeoutNs, 5e9);
  assert.equal(d.segmentFileLength, 128 * 1024 * 1024);
  assert.equal(d.fileSyncLevel, 0);
  assert.equal(d.dir, 'aeron-archive');
  const s = resolveArchiveSettings({ dir: '/tmp/a', fileSyncLevel: 2 }, { SKEIN_ARCHIVE_CONNECT_TIMEOUT: '2s', SKEIN_ARCHIVE_SEGMENT_FILE_LENGTH: '1m' });
  assert.equal(s.dir, '/tmp/a');
  assert.equal(s.fileSyncLevel, 2);
  assert.equal(s.connectTimeoutNs, 2e9);
  assert.equal(s.segmentFileLength, 1024 * 1024);
});

test('every bad value is named in one error, with a hint for a misspelt option', () => {
  assert.throws(
    () => resolveArchiveSettings({ fileSyncLevel: 3, segmentFileLength: 1000, controlChannel: 'aeron:ipc', connectTimeoutNS: 1 } as never),
    (e: unknown) =>
      e instanceof SkeinError &&
      e.code === ErrorCode.CONFIG_INVALID &&
      e.message.includes("unknown option 'connectTimeoutNS' (did you mean 'connectTimeoutNs'?)") &&
      e.message.includes('option fileSyncLevel: must be <= 2 (got 3)') &&
      e.message.includes('option segmentFileLength: must be >= 65536') &&
      e.message.includes("option controlChannel: 'aeron:ipc' must be an aeron:udp channel"),
  );
  assert.throws(() => resolveArchiveSettings({}, { SKEIN_ARCHIVE_FILE_SYNC_LEVEL: 'x' }), /SKEIN_ARCHIVE_FILE_SYNC_LEVEL=x: not an integer/);
});
