/**
 * Recording a live stream into segment files: blocks from Image.blockPoll land at their positions
 * (PAD frames as their header alone), segments roll at their boundaries and are created at full
 * length, an interrupted recording's stop position is found again from the files, verify finds
 * what is wrong with a damaged file, and a failing disk consumes nothing. With a sync level, zeros
 * are written ahead of the data (so syncs push data, not block allocations), and a disk too full
 * for them still takes the data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Skein } from '../../../src/skein.js';
import type { Image } from '../../../src/client/image.js';
import { MemoryFiles } from '../../../src/env/memory-files.js';
import { PREPARE_CHUNK_LENGTH, RecordingWriter, checkFileSyncLevel } from '../../../src/archive/recording-writer.js';
import { recoverStopPosition, verifyRecording, type RecordingLayout } from '../../../src/archive/segment-scan.js';
import { parseSegmentFileName, segmentBasePosition, segmentBasesOf, segmentFileName, segmentLengthFor } from '../../../src/archive/segment-files.js';
import { DATA_HEADER_LENGTH, END_FRAG_FLAG, PAD_FRAME_TYPE, readInt32LE } from '../../../src/logbuffer/frame-descriptor.js';
import { align } from '../../../src/util/bits.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';
import { waitFor } from '../../support/wait.js';

const DIR = '/archive';
const TERM_LENGTH = 64 * 1024;

test('segment names, bases and lengths follow the archive layout', () => {
  assert.equal(segmentFileName(7, 131072), '7-131072.rec');
  assert.deepEqual(parseSegmentFileName('7-131072.rec'), { recordingId: 7, segmentBasePosition: 131072 });
  assert.equal(parseSegmentFileName('7-131072.rec.del'), null);
  assert.equal(parseSegmentFileName('archive.catalog'), null);
  assert.deepEqual(segmentBasesOf(['1-0.rec', '2-0.rec', '1-131072.rec', '1-65536.rec', 'x'], 1), [0, 65536, 131072]);
  // A recording that starts mid-term: its first segment starts at that term's start.
  assert.equal(segmentBasePosition(70_000, 70_000, TERM_LENGTH, 2 * TERM_LENGTH), 65_536);
  assert.equal(segmentBasePosition(70_000, 65_536 + 2 * TERM_LENGTH, TERM_LENGTH, 2 * TERM_LENGTH), 65_536 + 2 * TERM_LENGTH);
  assert.equal(segmentBasePosition(70_000, 65_536 + 2 * TERM_LENGTH - 32, TERM_LENGTH, 2 * TERM_LENGTH), 65_536);
  assert.equal(segmentLengthFor(64 * 1024, 1024 * 1024), 1024 * 1024);
  assert.equal(segmentLengthFor(128 * 1024 * 1024, 64 * 1024), 128 * 1024 * 1024);
  for (const bad of [1000, 32 * 1024, 2 * 1024 * 1024 * 1024, Number.NaN]) {
    assert.throws(() => segmentLengthFor(bad, TERM_LENGTH), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.CONFIG_INVALID && e.message.includes(`segmentFileLength=${String(bad)}`));
  }
  assert.equal(checkFileSyncLevel('fileSyncLevel', 2), 2);
  assert.throws(() => checkFileSyncLevel('fileSyncLevel', 3), /fileSyncLevel=3 is invalid/);
});

interface Stream {
  readonly skein: Skein;
  readonly image: Image;
  readonly sent: Uint8Array[];
  publishedPosition(): number;
  offer(message: Uint8Array): Promise<void>;
}

async function ipcStream(): Promise<Stream> {
  const skein = Skein.launch({ testProfile: true, seed: 11 });
  const channel = `aeron:ipc?term-length=${TERM_LENGTH}`;
  const subscription = await skein.addSubscription(channel, 1001);
  const publication = await skein.addPublication(channel, 1001);
  await subscription.connected({ timeoutMs: 5000 });
  const image = subscription.images[0]!;
  const sent: Uint8Array[] = [];
  return {
    skein,
    image,
    sent,
    publishedPosition: () => publication.position,
    offer: async (message) => {
      await waitFor(() => publication.offer(message) >= 0, 5000, 'offer');
      sent.push(message);
    },
  };
}

function messageOf(i: number): Uint8Array {
  // Lengths vary so that frames straddle no term end evenly and PAD frames appear.
  const length = 1 + ((i * 7919) % 3000);
  const m = new Uint8Array(length);
  for (let j = 0; j < length; j++) m[j] = (i + j) & 0xff;
  return m;
}

/** Messages of a recording (fragments joined), read back from its segment files in position order. */
function payloadsOf(files: MemoryFiles, layout: RecordingLayout, stop: number): { payloads: Uint8Array[]; pads: number } {
  const payloads: Uint8Array[] = [];
  let pending: Uint8Array[] = [];
  let pads = 0;
  let position = layout.startPosition;
  while (position < stop) {
    const base = segmentBasePosition(layout.startPosition, position, layout.termLength, layout.segmentLength);
    const content = files.contentOf(`${DIR}/${segmentFileName(layout.recordingId, base)}`);
    assert.ok(content !== null, `segment ${base} exists`);
    assert.equal(content.length, layout.segmentLength, 'segments are created at full length');
    const at = position - base;
    const frameLength = readInt32LE(content, at);
    assert.ok(frameLength > 0, `a frame at ${position}`);
    if ((content[at + 6]! | (content[at + 7]! << 8)) === PAD_FRAME_TYPE) {
      pads++;
      // Only the PAD header is written: the padded range is zeros.
      assert.ok(content.subarray(at + DATA_HEADER_LENGTH, at + frameLength).every((b) => b === 0), 'padding stays zero');
    } else {
      pending.push(content.slice(at + DATA_HEADER_LENGTH, at + frameLength));
      if ((content[at + 5]! & END_FRAG_FLAG) !== 0) {
        payloads.push(Buffer.concat(pending));
        pending = [];
      }
    }
    position += align(frameLength, 32);
  }
  return { payloads, pads };
}

test('blocks from a live IPC stream are recorded at their positions across segments, byte for byte', async () => {
  const stream = await ipcStream();
  try {
    const files = new MemoryFiles();
    files.mkdirs(DIR);
    const { image } = stream;
    const startPosition = image.position;
    const segmentLength = segmentLengthFor(64 * 1024, image.termBufferLength);
    const writer = new RecordingWriter({
      files, archiveDir: DIR, recordingId: 3, startPosition, position: startPosition,
      initialTermId: image.initialTermId, termLength: image.termBufferLength, segmentLength, fileSyncLevel: 1,
    });
    const count = 400;
    for (let i = 0; i < count; i++) {
      await stream.offer(messageOf(i));
      image.blockPoll(writer.onBlock, 8192);
    }
    await waitFor(() => {
      image.blockPoll(writer.onBlock, 8192);
      return image.position === stream.publishedPosition();
    }, 5000, 'the recording to catch up');
    const stop = image.position;
    writer.close();
    writer.close();
    const layout: RecordingLayout = { recordingId: 3, startPosition, initialTermId: image.initialTermId, termLength: image.termBufferLength, segmentLength, streamId: 1001, sessionId: image.sessionId };
    const { payloads, pads } = payloadsOf(files, layout, stop);
    assert.equal(payloads.length, count);
    for (let i = 0; i < count; i++) assert.ok(Buffer.from(stream.sent[i]!).equals(payloads[i]!), `message ${i}`);
    assert.ok(pads > 0, 'the stream crossed term ends with PAD frames');
    assert.ok(segmentBasesOf(files.list(DIR), 3).length >= 3, 'several segments');
    assert.ok(files.syncCount > 0 && files.metadataSyncCount === 0, 'sync level 1 syncs data only');
    assert.equal(recoverStopPosition(files, DIR, layout), stop, 'the stop position is found again from the files');
    assert.deepEqual(verifyRecording(files, DIR, layout, stop), []);
    assert.throws(() => writer.write(new Uint8Array(32), 0, 32, image.initialTermId), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.CLOSED);
  } finally {
    await stream.skein.close();
  }
});

async function recorded(count: number, files: MemoryFiles, recordingId: number): Promise<{ layout: RecordingLayout; stop: number; stream: Stream; writer: RecordingWriter }> {
  const stream = await ipcStream();
  const { image } = stream;
  const startPosition = image.position;
  const segmentLength = segmentLengthFor(64 * 1024, image.termBufferLength);
  const writer = new RecordingWriter({
    files, archiveDir: DIR, recordingId, startPosition, position: startPosition,
    initialTermId: image.initialTermId, termLength: image.termBufferLength, segmentLength, fileSyncLevel: 0,
  });
  for (let i = 0; i < count; i++) {
    await stream.offer(messageOf(i));
    image.blockPoll(writer.onBlock, 4096);
  }
  await waitFor(() => {
    image.blockPoll(writer.onBlock, 4096);
    return image.position === stream.publishedPosition();
  }, 5000, 'the recording to catch up');
  const layout: RecordingLayout = { recordingId, startPosition, initialTermId: image.initialTermId, termLength: image.termBufferLength, segmentLength, streamId: 1001, sessionId: image.sessionId };
  return { layout, stop: image.position, stream, writer };
}

test('verify names the file, offset and reason of a damaged, short or missing segment', async () => {
  const files = new MemoryFiles();
  files.mkdirs(DIR);
  const { layout, stop, stream, writer } = await recorded(120, files, 5);
  try {
    writer.close();
    assert.deepEqual(verifyRecording(files, DIR, layout, stop), []);
    const first = `${DIR}/${segmentFileName(5, 0)}`;
    const handle = files.open(first, 'write');
    // The second frame's term offset field, overwritten.
    const secondFrame = layout.startPosition + align(readInt32LE(files.contentOf(first)!, layout.startPosition), 32);
    handle.write(new Uint8Array([9, 9, 9, 9]), 0, 4, secondFrame + 8);
    handle.close();
    const damaged = verifyRecording(files, DIR, layout, stop);
    assert.equal(damaged.length, 1);
    assert.equal(damaged[0]!.file, segmentFileName(5, 0));
    assert.equal(damaged[0]!.position, secondFrame);
    assert.match(damaged[0]!.reason, /term offset 151587081 where \d+ belongs/);
    // A stream id that is not the recording's.
    const wrongStream = { ...layout, streamId: 77 };
    assert.match(verifyRecording(files, DIR, wrongStream, stop)[0]!.reason, /stream id 1001 where 77 belongs/);
    // The last segment removed.
    const bases = segmentBasesOf(files.list(DIR), 5);
    const last = bases[bases.length - 1]!;
    files.remove(`${DIR}/${segmentFileName(5, last)}`);
    const missing = verifyRecording(files, DIR, layout, stop);
    assert.ok(missing.some((p) => p.file === segmentFileName(5, last) && p.reason === 'segment file is missing'), JSON.stringify(missing));
    // Recovery then stops at the end of the (now) last segment.
    assert.equal(recoverStopPosition(files, DIR, layout), last);
  } finally {
    await stream.skein.close();
  }
});

test('recovery stops at the last whole frame of the last segment, and at the start without files', async () => {
  const files = new MemoryFiles();
  files.mkdirs(DIR);
  const { layout, stop, stream, writer } = await recorded(60, files, 2);
  try {
    writer.close();
    assert.equal(recoverStopPosition(files, DIR, layout), stop);
    // A torn tail: the last frame's header zeroed, as if it never reached the file.
    const bases = segmentBasesOf(files.list(DIR), 2);
    const lastBase = bases[bases.length - 1]!;
    const content = files.contentOf(`${DIR}/${segmentFileName(2, lastBase)}`)!;
    let at = Math.max(0, layout.startPosition - lastBase);
    let lastFrame = at;
    while (readInt32LE(content, at) > 0) {
      lastFrame = at;
      at += align(readInt32LE(content, at), 32);
    }
    const handle = files.open(`${DIR}/${segmentFileName(2, lastBase)}`, 'write');
    handle.write(new Uint8Array(DATA_HEADER_LENGTH), 0, DATA_HEADER_LENGTH, lastFrame);
    handle.close();
    assert.equal(recoverStopPosition(files, DIR, layout), lastBase + lastFrame);
    assert.equal(recoverStopPosition(files, DIR, { ...layout, recordingId: 99 }), layout.startPosition);
  } finally {
    await stream.skein.close();
  }
});

test('a write that fails (full disk, device error) consumes nothing: the same block comes again', async () => {
  const files = new MemoryFiles();
  files.mkdirs(DIR);
  const stream = await ipcStream();
  try {
    const { image } = stream;
    const startPosition = image.position;
    const writer = new RecordingWriter({
      files, archiveDir: DIR, recordingId: 1, startPosition, position: startPosition,
      initialTermId: image.initialTermId, termLength: image.termBufferLength, segmentLength: 64 * 1024, fileSyncLevel: 0,
    });
    await stream.offer(messageOf(1));
    await waitFor(() => image.blockPoll(writer.onBlock, 4096) > 0, 5000, 'the first block');
    const recordedPosition = image.position;
    await stream.offer(messageOf(2));
    files.setCapacity(files.usedBytes + 16);
    await waitFor(() => {
      try {
        image.blockPoll(writer.onBlock, 4096);
        return false;
      } catch (error) {
        assert.ok(error instanceof SkeinError && error.code === ErrorCode.STORAGE_FAILED && error.message.includes('ENOSPC') && error.message.includes('1-0.rec'), String(error));
        return true;
      }
    }, 5000, 'the write to fail');
    assert.equal(image.position, recordedPosition, 'the failed block is not consumed');
    assert.equal(writer.position, recordedPosition);
    files.failWrites('EIO');
    files.setCapacity(Number.MAX_SAFE_INTEGER);
    assert.throws(() => image.blockPoll(writer.onBlock, 4096), /EIO/);
    assert.equal(image.position, recordedPosition);
    files.failWrites(null);
    assert.ok(image.blockPoll(writer.onBlock, 4096) > 0, 'the same block is written once the disk takes it');
    assert.equal(image.position, stream.publishedPosition());
    assert.throws(() => image.blockPoll(writer.onBlock, 16), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.ARG_INVALID && e.message.includes('blockLengthLimit 16'));
  } finally {
    await stream.skein.close();
  }
});

test('with a sync level, zeros go ahead of the data; without one, segments stay sparse; a full disk still takes the data', () => {
  const termLength = 1024 * 1024;
  const segmentLength = 4 * termLength;
  const block = 48 * 1024;
  const initialTermId = 7;
  const data = new Uint8Array(block);
  for (let i = 0; i < block; i++) data[i] = 1 + (i % 251);
  const files = new MemoryFiles();
  files.mkdirs(DIR);
  const init = { files, archiveDir: DIR, startPosition: 0, position: 0, initialTermId, termLength, segmentLength };
  // write() takes a term buffer and an offset in it: a block at `position` is written from a buffer holding it at its term offset.
  const termBuffer = new Uint8Array(termLength);
  const put = (writer: RecordingWriter, position: number): void => {
    const offset = position % termLength;
    termBuffer.set(data, offset);
    writer.write(termBuffer, offset, block, initialTermId + Math.floor(position / termLength));
  };

  const synced = new RecordingWriter({ ...init, recordingId: 1, fileSyncLevel: 1 });
  const sparse = new RecordingWriter({ ...init, recordingId: 2, fileSyncLevel: 0 });
  const seg = (id: number, base: number): string => `${DIR}/${segmentFileName(id, base)}`;
  // Blocks up to past the first segment's end (blocks do not cross terms: 48 KiB does not divide 1 MiB, so skip to the next term where one would).
  let position = 0;
  let blocks = 0;
  while (position < segmentLength + 2 * termLength) {
    if ((position % termLength) + block > termLength) position = (Math.floor(position / termLength) + 1) * termLength;
    put(synced, position);
    put(sparse, position);
    blocks++;
    const base = Math.floor(position / segmentLength) * segmentLength;
    const end = position + block - base;
    const prepared = files.allocatedOf(seg(1, base))!;
    assert.ok(prepared >= Math.min(segmentLength, end + PREPARE_CHUNK_LENGTH / 2), `zeros at least half a chunk ahead: ${prepared} after data ending at ${end}`);
    assert.ok(prepared <= end + 1.5 * PREPARE_CHUNK_LENGTH, `no more than a chunk and a half ahead: ${prepared} after data ending at ${end}`);
    assert.equal(files.allocatedOf(seg(2, base)), end, 'without a sync level the segment takes only what was written');
    position += block;
  }
  assert.ok(blocks > 100);
  assert.equal(files.allocatedOf(seg(1, 0)), segmentLength, 'the full first segment was prepared to its end, not past it');
  // The content is the same either way: data where it was written, zeros elsewhere.
  for (const base of [0, segmentLength]) assert.ok(Buffer.from(files.contentOf(seg(1, base))!).equals(Buffer.from(files.contentOf(seg(2, base))!)), `segment ${base}`);
  assert.ok(files.syncCount >= blocks, 'each write synced');

  // A disk too full for the zeros: preparing stops for the segment, the data is still written.
  const full = new MemoryFiles();
  full.mkdirs(DIR);
  const tight = new RecordingWriter({ ...init, files: full, recordingId: 3, fileSyncLevel: 1 });
  full.setCapacity(block);
  put(tight, 0);
  assert.equal(full.allocatedOf(seg(3, 0)), block, 'only the data');
  full.setCapacity(Number.MAX_SAFE_INTEGER);
  put(tight, block);
  assert.equal(full.allocatedOf(seg(3, 0)), 2 * block, 'no zeros after a failed attempt in this segment');
  const content = full.contentOf(seg(3, 0))!;
  assert.ok(Buffer.from(content.subarray(0, block)).equals(Buffer.from(data)) && Buffer.from(content.subarray(block, 2 * block)).equals(Buffer.from(data)));
  synced.close();
  sparse.close();
  tight.close();
});
