/**
 * The archive conductor on a real client: start a recording by channel and stream (OK with the
 * subscription id, START with the join position), record while a publisher sends, answer
 * positions, list and find recordings, refuse a second recording of the same stream and unknown
 * ids with the archive's error codes, replay byte for byte to a UDP channel (bounded, whole, and
 * following the live recording), stop the recording (STOP), extend it from its stop position,
 * and survive a reopen of the catalog with everything in it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Skein } from '../../../src/skein.js';
import { nodeFiles } from '../../../src/env/files.js';
import { systemEpochClock } from '../../../src/env/clock.js';
import { Catalog, type RecordingDescriptor } from '../../../src/archive/catalog.js';
import { resolveArchiveSettings } from '../../../src/archive/archive-context.js';
import { ArchiveConductor, ArchiveErrorCode, RecordingSignal, stripChannel, type ControlSessionLink } from '../../../src/archive/archive-conductor.js';
import { FragmentAssembler } from '../../../src/logbuffer/fragment-assembler.js';
import type { Header } from '../../../src/logbuffer/header.js';
import type { SkeinError } from '../../../src/util/errors.js';
import { freeUdpPort, waitFor } from '../../support/wait.js';

type Answer =
  | { kind: 'ok'; correlationId: number; relevantId: bigint }
  | { kind: 'error'; correlationId: number; code: number; message: string }
  | { kind: 'unknown-recording'; correlationId: number; recordingId: number }
  | { kind: 'unknown-subscription'; correlationId: number }
  | { kind: 'signal'; correlationId: number; recordingId: number; subscriptionId: number; position: number; signal: number }
  | { kind: 'descriptor'; correlationId: number; descriptor: RecordingDescriptor }
  | { kind: 'subscription'; correlationId: number; subscriptionId: number; streamId: number; strippedChannel: string };

class FakeLink implements ControlSessionLink {
  readonly answers: Answer[] = [];
  isDone = false;
  constructor(readonly controlSessionId: number) {}
  sendOk(correlationId: number, relevantId: bigint | number): void {
    this.answers.push({ kind: 'ok', correlationId, relevantId: BigInt(relevantId) });
  }
  sendError(correlationId: number, code: number, message: string): void {
    this.answers.push({ kind: 'error', correlationId, code, message });
  }
  sendRecordingUnknown(correlationId: number, recordingId: number): void {
    this.answers.push({ kind: 'unknown-recording', correlationId, recordingId });
  }
  sendSubscriptionUnknown(correlationId: number): void {
    this.answers.push({ kind: 'unknown-subscription', correlationId });
  }
  sendSignal(correlationId: number, recordingId: number, subscriptionId: number, position: number, signal: number): void {
    this.answers.push({ kind: 'signal', correlationId, recordingId, subscriptionId, position, signal });
  }
  sendDescriptor(correlationId: number, descriptor: Readonly<RecordingDescriptor>): void {
    this.answers.push({ kind: 'descriptor', correlationId, descriptor: { ...descriptor } });
  }
  sendSubscriptionDescriptor(correlationId: number, subscriptionId: number, streamId: number, strippedChannel: string): void {
    this.answers.push({ kind: 'subscription', correlationId, subscriptionId, streamId, strippedChannel });
  }
  of(correlationId: number): Answer[] {
    return this.answers.filter((a) => a.correlationId === correlationId);
  }
  okOf(correlationId: number): bigint {
    const a = this.of(correlationId).find((x) => x.kind === 'ok');
    assert.ok(a !== undefined && a.kind === 'ok', `an OK for ${correlationId}: ${JSON.stringify(this.of(correlationId), (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
    return a.relevantId;
  }
  errorOf(correlationId: number): { code: number; message: string } {
    const a = this.of(correlationId).find((x) => x.kind === 'error');
    assert.ok(a !== undefined && a.kind === 'error', `an ERROR for ${correlationId}`);
    return a;
  }
}

function messageOf(i: number): Uint8Array {
  const m = new Uint8Array(20 + ((i * 911) % 1500));
  new DataView(m.buffer).setUint32(0, i, true);
  for (let j = 4; j < m.length; j++) m[j] = (i * 7 + j) & 0xff;
  return m;
}

test('record, query, list, replay (bounded, whole, live), stop, extend and reopen', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-archive-conductor-'));
  const skein = Skein.launch({ testProfile: true, seed: 71 });
  const errors: SkeinError[] = [];
  let catalog = Catalog.open({ files: nodeFiles, archiveDir: dir, syncLevel: 0 });
  const settings = resolveArchiveSettings({ dir, segmentFileLength: 64 * 1024, lowStorageSpaceThreshold: 0 });
  let conductor = new ArchiveConductor({ client: skein.client, settings, files: nodeFiles, epochClock: systemEpochClock, catalog, archiveId: 9, onError: (e) => errors.push(e) });
  const step = (): number => conductor.doWork(skein.client.nanoTime());
  try {
    const link = new FakeLink(1234);
    const channel = 'aeron:ipc?term-length=65536|alias=orders';
    conductor.startRecording(link, 1, 1001, channel, 'LOCAL', false);
    await waitFor(() => link.of(1).length > 0, 5000, 'the start answer');
    const subscriptionId = Number(link.okOf(1));
    conductor.startRecording(link, 2, 1001, 'aeron:ipc?alias=again', 'LOCAL', false);
    await waitFor(() => link.of(2).length > 0, 5000, 'the duplicate answer');
    assert.equal(link.errorOf(2).code, ArchiveErrorCode.ACTIVE_SUBSCRIPTION);
    assert.match(link.errorOf(2).message, /recording exists for streamId=1001 channel=aeron:ipc\?alias=again/);

    const publication = await skein.addExclusivePublication('aeron:ipc?term-length=65536', 1001);
    await waitFor(() => {
      step();
      return link.of(1).some((a) => a.kind === 'signal');
    }, 5000, 'START');
    const start = link.of(1).find((a) => a.kind === 'signal')!;
    assert.deepEqual(start, { kind: 'signal', correlationId: 1, recordingId: 0, subscriptionId, position: 0, signal: RecordingSignal.START });
    const count = 400;
    for (let i = 0; i < count; i++) {
      const m = messageOf(i);
      await waitFor(() => {
        step();
        return publication.offer(m) >= 0;
      }, 5000, `offer ${i}`);
    }
    const end = publication.position;
    await waitFor(() => {
      step();
      conductor.recordingPosition(link, 3, 0);
      return link.of(3).some((a) => a.kind === 'ok' && a.relevantId === BigInt(end));
    }, 5000, 'the recording position to reach the end');
    conductor.stopPosition(link, 4, 0);
    assert.equal(link.okOf(4), -1n, 'no stop position while active');
    conductor.maxRecordedPosition(link, 5, 0);
    assert.equal(link.okOf(5), BigInt(end));
    conductor.startPosition(link, 6, 0);
    assert.equal(link.okOf(6), 0n);
    conductor.stopPosition(link, 7, 42);
    assert.equal(link.errorOf(7).code, ArchiveErrorCode.UNKNOWN_RECORDING);
    conductor.findLastMatchingRecording(link, 8, 0, publication.sessionId, 1001, 'alias=orders');
    assert.equal(link.okOf(8), 0n);
    conductor.findLastMatchingRecording(link, 9, 0, publication.sessionId, 1001, 'alias=nothing');
    assert.equal(link.okOf(9), -1n);
    conductor.listRecordings(link, 10, 0, 10);
    const listed = link.of(10);
    assert.equal(listed.length, 2);
    assert.equal(listed[0]!.kind, 'descriptor');
    const descriptor = (listed[0] as { descriptor: RecordingDescriptor }).descriptor;
    assert.equal(descriptor.strippedChannel, 'aeron:ipc');
    assert.equal(descriptor.originalChannel, channel);
    assert.equal(descriptor.sessionId, publication.sessionId);
    assert.equal(descriptor.controlSessionId, 1234);
    assert.deepEqual(listed[1], { kind: 'unknown-recording', correlationId: 10, recordingId: 1 });
    conductor.listRecordingSubscriptions(link, 11, 0, 5, true, 1001, '');
    assert.deepEqual(link.of(11), [
      { kind: 'subscription', correlationId: 11, subscriptionId, streamId: 1001, strippedChannel: 'aeron:ipc' },
      { kind: 'unknown-subscription', correlationId: 11 },
    ]);

    // A live replay to UDP, started while recording, and a bounded one of the first 64 KiB.
    const port = await freeUdpPort();
    const replayIn = await skein.addSubscription(`aeron:udp?endpoint=127.0.0.1:${port}`, 3001);
    const received: Uint8Array[] = [];
    let lastPosition = 0;
    const assembler = new FragmentAssembler((b: Uint8Array, o: number, l: number, h: Header) => {
      received.push(b.slice(o, o + l));
      lastPosition = h.position;
    });
    conductor.replay(link, 12, 0, -1, -1, 3001, `aeron:udp?endpoint=127.0.0.1:${port}`, 0, null, skein.client.nanoTime());
    await waitFor(() => {
      step();
      replayIn.poll(assembler.onFragment, 100);
      return received.length === count;
    }, 10_000, 'the live replay to catch up');
    const replaySessionId = link.okOf(12);
    assert.equal(Number(replaySessionId & 0xffffffffn) | 0, replayIn.images[0]!.sessionId, 'the replay session id carries the publication session id');
    for (let i = 0; i < count; i++) assert.ok(Buffer.from(messageOf(i)).equals(received[i]!), `message ${i}`);
    assert.equal(lastPosition, end);
    // More while it follows.
    for (let i = count; i < count + 50; i++) {
      const m = messageOf(i);
      await waitFor(() => {
        step();
        replayIn.poll(assembler.onFragment, 100);
        return publication.offer(m) >= 0;
      }, 5000, `offer ${i}`);
    }
    const end2 = publication.position;
    await waitFor(() => {
      step();
      replayIn.poll(assembler.onFragment, 100);
      return received.length === count + 50;
    }, 10_000, 'the live replay to follow');
    assert.equal(conductor.activeReplayCount, 1);

    // Stop the recording: STOP at the end, the live replay ends once it has sent everything.
    conductor.stopRecordingSubscription(link, 13, subscriptionId);
    assert.equal(link.okOf(13), 0n);
    await waitFor(() => {
      step();
      replayIn.poll(assembler.onFragment, 100);
      return link.of(1).some((a) => a.kind === 'signal' && a.signal === RecordingSignal.STOP) && conductor.activeReplayCount === 0;
    }, 10_000, 'STOP and the end of the live replay');
    const stop = link.of(1).find((a) => a.kind === 'signal' && a.signal === RecordingSignal.STOP) as { position: number };
    assert.equal(stop.position, end2);
    conductor.stopPosition(link, 14, 0);
    assert.equal(link.okOf(14), BigInt(end2));

    conductor.replay(link, 15, 0, 64 * 1024 + 16, 10, 3001, `aeron:udp?endpoint=127.0.0.1:${port}`, 0, null, skein.client.nanoTime());
    assert.equal(link.errorOf(15).code, ArchiveErrorCode.GENERIC, 'a start position that is not a multiple of 32');
    conductor.replay(link, 16, 0, end2 + 64, 10, 3001, `aeron:udp?endpoint=127.0.0.1:${port}`, 0, null, skein.client.nanoTime());
    assert.equal(link.errorOf(16).code, ArchiveErrorCode.INVALID_POSITION);
    conductor.replay(link, 17, 7, 0, -1, 3001, `aeron:udp?endpoint=127.0.0.1:${port}`, 0, null, skein.client.nanoTime());
    assert.equal(link.errorOf(17).code, ArchiveErrorCode.UNKNOWN_RECORDING);

    // Extend from the stop position with a new publication that starts there.
    publication.close();
    conductor.extendRecording(link, 18, 0, 1001, channel, 'LOCAL', true);
    await waitFor(() => link.of(18).length > 0, 5000, 'the extend answer');
    link.okOf(18);
    const d = catalog.descriptor(0)!;
    const termId = d.initialTermId + Math.floor(end2 / 65536);
    const extension = await skein.addExclusivePublication(`aeron:ipc?term-length=65536|init-term-id=${d.initialTermId}|term-id=${termId}|term-offset=${end2 % 65536}`, 1001);
    await waitFor(() => {
      step();
      return link.of(18).some((a) => a.kind === 'signal' && a.signal === RecordingSignal.EXTEND);
    }, 5000, 'EXTEND');
    for (let i = 0; i < 10; i++) {
      const m = messageOf(1000 + i);
      await waitFor(() => {
        step();
        return extension.offer(m) >= 0;
      }, 5000, 'offer to the extension');
    }
    const end3 = extension.position;
    extension.close();
    await waitFor(() => {
      step();
      return link.of(18).some((a) => a.kind === 'signal' && a.signal === RecordingSignal.STOP);
    }, 10_000, 'the extension to stop at the end of its stream');
    assert.equal(catalog.descriptor(0)!.stopPosition, end3);
    assert.equal(catalog.descriptor(0)!.correlationId, 18);

    // Reopen: everything is still there; a whole replay gives all 460 messages.
    conductor.close();
    catalog.close();
    catalog = Catalog.open({ files: nodeFiles, archiveDir: dir, syncLevel: 0 });
    conductor = new ArchiveConductor({ client: skein.client, settings, files: nodeFiles, epochClock: systemEpochClock, catalog, archiveId: 9, onError: (e) => errors.push(e) });
    assert.equal(catalog.descriptor(0)!.stopPosition, end3);
    const port2 = await freeUdpPort();
    const all = await skein.addSubscription(`aeron:udp?endpoint=127.0.0.1:${port2}`, 3002);
    const again: Uint8Array[] = [];
    const assembler2 = new FragmentAssembler((b: Uint8Array, o: number, l: number) => again.push(b.slice(o, o + l)));
    conductor.replay(link, 19, 0, -1, -2, 3002, `aeron:udp?endpoint=127.0.0.1:${port2}`, 0, null, skein.client.nanoTime());
    await waitFor(() => {
      step();
      all.poll(assembler2.onFragment, 100);
      return again.length === count + 60;
    }, 10_000, 'the whole replay after a reopen');
    for (let i = 0; i < count + 50; i++) assert.ok(Buffer.from(messageOf(i)).equals(again[i]!), `message ${i}`);
    for (let i = 0; i < 10; i++) assert.ok(Buffer.from(messageOf(1000 + i)).equals(again[count + 50 + i]!), `extension message ${i}`);
    assert.deepEqual(errors, []);
  } finally {
    conductor.close();
    catalog.close();
    await skein.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stripped channels keep what says where a stream comes from', () => {
  assert.equal(stripChannel('aeron:udp?endpoint=localhost:40123|alias=x|term-length=64k|interface=127.0.0.1|session-id=5'), 'aeron:udp?endpoint=localhost:40123|interface=127.0.0.1|session-id=5');
  assert.equal(stripChannel('aeron:ipc?term-length=65536|alias=orders'), 'aeron:ipc');
});
