/**
 * Replaying a recording from its segment files into an exclusive publication that starts at the
 * recording's positions: every message arrives byte for byte at the position it was recorded at,
 * from the start or from the middle, in blocks of whole frames that never cross a term, with the
 * replay's own session and stream id and PAD frames turned back into padding.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Skein } from '../../../src/skein.js';
import { MemoryFiles } from '../../../src/env/memory-files.js';
import { RecordingWriter } from '../../../src/archive/recording-writer.js';
import { RecordingReader } from '../../../src/archive/recording-reader.js';
import type { RecordingLayout } from '../../../src/archive/segment-scan.js';
import { FragmentAssembler } from '../../../src/logbuffer/fragment-assembler.js';
import type { Header } from '../../../src/logbuffer/header.js';
import type { Publication } from '../../../src/client/publication.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';
import { waitFor } from '../../support/wait.js';

const DIR = '/archive';
const TERM_LENGTH = 64 * 1024;

function messageOf(i: number): Uint8Array {
  const length = 1 + ((i * 4111) % 2500);
  const m = new Uint8Array(length);
  for (let j = 0; j < length; j++) m[j] = (i * 31 + j) & 0xff;
  return m;
}

interface Recorded {
  readonly layout: RecordingLayout;
  readonly stop: number;
  readonly messages: Uint8Array[];
}

async function record(skein: Skein, files: MemoryFiles, count: number): Promise<Recorded> {
  const channel = `aeron:ipc?term-length=${TERM_LENGTH}`;
  const subscription = await skein.addSubscription(channel, 1001);
  const publication = await skein.addPublication(channel, 1001);
  await subscription.connected({ timeoutMs: 5000 });
  const image = subscription.images[0]!;
  const startPosition = image.position;
  const writer = new RecordingWriter({
    files, archiveDir: DIR, recordingId: 0, startPosition, position: startPosition,
    initialTermId: image.initialTermId, termLength: TERM_LENGTH, segmentLength: 2 * TERM_LENGTH, fileSyncLevel: 0,
  });
  const sent: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const m = messageOf(i);
    await waitFor(() => {
      image.blockPoll(writer.onBlock, 4096);
      return publication.offer(m) >= 0;
    }, 5000, 'offer');
    sent.push(m);
  }
  await waitFor(() => {
    image.blockPoll(writer.onBlock, 4096);
    return image.position === publication.position;
  }, 5000, 'the recording to catch up');
  writer.close();
  const layout: RecordingLayout = { recordingId: 0, startPosition, initialTermId: image.initialTermId, termLength: TERM_LENGTH, segmentLength: 2 * TERM_LENGTH, streamId: 1001, sessionId: image.sessionId };
  return { layout, stop: image.position, messages: sent };
}

function replayChannel(layout: RecordingLayout, from: number): string {
  const termId = (layout.initialTermId + Math.floor(from / layout.termLength)) | 0;
  return `aeron:ipc?term-length=${layout.termLength}|init-term-id=${layout.initialTermId}|term-id=${termId}|term-offset=${from % layout.termLength}`;
}

/** Sends blocks from `reader` into `publication` until `stop`; returns how many blocks and PAD blocks. */
async function replay(reader: RecordingReader, publication: Publication, stop: number, drain: () => void): Promise<{ blocks: number; pads: number }> {
  let blocks = 0;
  let pads = 0;
  await waitFor(() => {
    drain();
    for (let i = 0; i < 16 && reader.position < stop; i++) {
      const length = reader.read(stop, publication.sessionId, publication.streamId, publication.availableWindow);
      if (length === 0) break;
      const padding = reader.paddingLength;
      const result = padding > 0 ? publication.appendPadding(padding - 32) : publication.offerBlock(reader.buffer, 0, length);
      if (result < 0) break;
      assert.equal(result, reader.position + (padding > 0 ? padding : length), 'the replay publication is at the recorded position');
      if (padding > 0) pads++;
      blocks++;
      reader.consume();
    }
    return reader.position >= stop;
  }, 10_000, 'the replay to send everything');
  return { blocks, pads };
}

test('a recording replays byte for byte at its recorded positions, from the start and from a mid-stream frame', async () => {
  const skein = Skein.launch({ testProfile: true, seed: 5 });
  try {
    const files = new MemoryFiles();
    files.mkdirs(DIR);
    const { layout, stop, messages } = await record(skein, files, 300);
    for (const fromIndex of [0, 137]) {
      // The start position of message `fromIndex`: found by replaying nothing but positions.
      let from = layout.startPosition;
      if (fromIndex > 0) {
        const scan = new RecordingReader(files, DIR, layout, layout.startPosition, 64 * 1024);
        let seen = 0;
        const assembler = new FragmentAssembler((_b: Uint8Array, _o: number, _l: number, header: Header) => {
          seen++;
          if (seen === fromIndex) from = header.position;
        });
        const sink = await skein.addSubscription('aeron:ipc?term-length=65536', 3000 + fromIndex);
        const pub = await skein.addExclusivePublication(replayChannel(layout, layout.startPosition), 3000 + fromIndex);
        await sink.connected({ timeoutMs: 5000 });
        await replay(scan, pub, stop, () => sink.poll(assembler.onFragment, 100));
        await waitFor(() => {
          sink.poll(assembler.onFragment, 100);
          return seen === messages.length;
        }, 5000, 'the scan replay');
        scan.close();
        pub.close();
        sink.close();
      }
      const streamId = 2000 + fromIndex;
      const subscription = await skein.addSubscription('aeron:ipc?term-length=65536', streamId);
      const publication = await skein.addExclusivePublication(replayChannel(layout, from), streamId);
      await subscription.connected({ timeoutMs: 5000 });
      const received: Uint8Array[] = [];
      let lastPosition = -1;
      let sessionOk = true;
      const assembler = new FragmentAssembler((buffer: Uint8Array, offset: number, length: number, header: Header) => {
        received.push(buffer.slice(offset, offset + length));
        lastPosition = header.position;
        if (header.sessionId !== publication.sessionId || header.streamId !== streamId) sessionOk = false;
      });
      const reader = new RecordingReader(files, DIR, layout, from, 8192);
      const { blocks, pads } = await replay(reader, publication, stop, () => subscription.poll(assembler.onFragment, 100));
      await waitFor(() => {
        subscription.poll(assembler.onFragment, 100);
        return received.length === messages.length - fromIndex;
      }, 5000, 'the replayed messages');
      reader.close();
      reader.close();
      assert.ok(sessionOk, 'replayed frames carry the replay publication session and stream');
      assert.equal(lastPosition, stop, 'the last message ends at the recorded stop position');
      for (let i = 0; i < received.length; i++) assert.ok(Buffer.from(messages[fromIndex + i]!).equals(received[i]!), `message ${fromIndex + i}`);
      assert.ok(blocks > 0 && pads > 0, `blocks ${blocks}, pads ${pads}`);
      assert.throws(() => reader.read(stop, 1, 1), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.CLOSED);
      publication.close();
      subscription.close();
    }
  } finally {
    await skein.close();
  }
});

test('offerBlock refuses a block that does not continue the stream, and a concurrent publication', async () => {
  const skein = Skein.launch({ testProfile: true, seed: 6 });
  try {
    const exclusive = await skein.addExclusivePublication('aeron:ipc?term-length=65536|init-term-id=7|term-id=7|term-offset=0', 1);
    const shared = await skein.addPublication('aeron:ipc', 2);
    const frame = new Uint8Array(64);
    const view = new DataView(frame.buffer);
    view.setInt32(0, 40, true);
    view.setUint16(6, 1, true);
    view.setInt32(8, 32, true); // term offset 32, where the stream is at 0
    view.setInt32(12, exclusive.sessionId, true);
    view.setInt32(16, 1, true);
    view.setInt32(20, 7, true);
    assert.throws(() => exclusive.offerBlock(frame, 0, 64), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.ARG_INVALID && /termOffset=32 .* at termId=7 termOffset=0/.test(e.message));
    assert.throws(() => exclusive.offerBlock(frame, 0, 40), /32-byte aligned frames/);
    assert.throws(() => shared.offerBlock(frame, 0, 64), /needs an exclusive publication/);
    assert.throws(() => shared.appendPadding(64), /needs an exclusive publication/);
    assert.throws(() => exclusive.appendPadding(70_000), /appendPadding length 70000 is outside/);
  } finally {
    await skein.close();
  }
});
