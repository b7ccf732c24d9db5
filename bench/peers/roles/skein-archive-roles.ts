/**
 * Skein's archive as the persistence counterpart of JetStream's file store, in the
 * request/response scenario: a request is a message offered on a UDP stream that an archive in
 * another process records; its response is the archive saying the message is in its segment files
 * (a RecordingProgress event on the recording events channel whose position passes the message).
 * At file sync level 0 the bytes are in the OS's page cache when acknowledged, as a JetStream
 * PubAck's are with nats-server's default store settings; at level 1 each write is also
 * fdatasync'ed before the position moves on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_ACTION, BACK_PRESSURED, NOT_CONNECTED, Skein, publicationCodeName } from '../../../src/index.js';
import { Archive } from '../../../src/archive/archive.js';
import { ArchiveClient } from '../../../src/archive/archive-client.js';
import * as codecs from '../../../src/archive/codecs/archive-codecs.js';
import type { ChildConfig, ChildContext, RoleHandle } from '../../support/child-runtime.js';
import type { ThroughputWindow } from '../../transport/throughput-meter.js';
import { readSequence } from '../../transport/payload.js';
import { RequestDriver, SLOTS_MAX } from './request-driver.js';
import { benchSkeinOptions, systemCounters } from '../../transport/roles/skein-options.js';
import { phaseCommand, SEQUENCE_OFFSET } from '../phases.js';

export interface SkeinArchiveConfig extends ChildConfig, ThroughputWindow {
  readonly controlPort: number;
  readonly dataPort: number;
  readonly eventsPort: number;
  readonly streamId: number;
  readonly fileSyncLevel: 0 | 1;
  readonly tmpDir: string;
  readonly connectTimeoutMs: number;
}

const EVENTS_STREAM = 30;

/** The archive process: records the data stream and publishes recording events to the publisher. */
export async function skeinArchiveServer(config: SkeinArchiveConfig, context: ChildContext): Promise<RoleHandle> {
  const errors = { count: 0 };
  const dir = mkdtempSync(join(config.tmpDir, 'skein-archive-'));
  const skein = Skein.launch(benchSkeinOptions(errors));
  const control = `aeron:udp?endpoint=127.0.0.1:${config.controlPort}`;
  const archive = await Archive.launch(skein.client, {
    dir, controlChannel: control, lowStorageSpaceThreshold: 0, fileSyncLevel: config.fileSyncLevel,
    recordingEventsEnabled: true, recordingEventsChannel: `aeron:udp?endpoint=127.0.0.1:${config.eventsPort}`, recordingEventsStreamId: EVENTS_STREAM,
  });
  const client = await ArchiveClient.connect(skein.client, { controlRequestChannel: control, controlResponseChannel: 'aeron:udp?endpoint=127.0.0.1:0' });
  await client.startRecording(`aeron:udp?endpoint=127.0.0.1:${config.dataPort}`, config.streamId, 'REMOTE');
  context.ready();
  return {
    stop: async () => {
      const recorded = archive.recordedPosition(0);
      await client.close();
      archive.close();
      const final = { recordedBytes: recorded, skeinErrors: errors.count, ...systemCounters(skein, 'archive') };
      skein.destroy();
      rmSync(dir, { recursive: true, force: true });
      return final;
    },
  };
}

/** The publishing process: each request is one message; it completes when the archive has recorded it. */
export async function skeinArchivePublisher(config: SkeinArchiveConfig, context: ChildContext): Promise<RoleHandle> {
  const errors = { count: 0 };
  const skein = Skein.launch(benchSkeinOptions(errors));
  const events = await skein.addSubscription(`aeron:udp?endpoint=127.0.0.1:${config.eventsPort}`, EVENTS_STREAM);
  const publication = await skein.addExclusivePublication(`aeron:udp?endpoint=127.0.0.1:${config.dataPort}`, config.streamId);
  await publication.connected({ timeoutMs: config.connectTimeoutMs });
  const endPosition = new Float64Array(SLOTS_MAX).fill(-1);
  const requestNumber = new Uint32Array(SLOTS_MAX);
  const waiting: { slot: number; buffer: Buffer }[] = [];
  let offerFailures = 0;
  let recorded = -1;
  const offer = (slot: number, buffer: Buffer): boolean => {
    const result = publication.offer(buffer, 0, buffer.length);
    if (result >= 0) {
      endPosition[slot] = result;
      requestNumber[slot] = readSequence(buffer, SEQUENCE_OFFSET);
      if (recorded >= result) complete(recorded);
      return true;
    }
    if (result === BACK_PRESSURED || result === NOT_CONNECTED || result === ADMIN_ACTION) return false;
    offerFailures++;
    throw new Error(`offer failed with ${publicationCodeName(result)}`);
  };
  const retry = (): void => {
    while (waiting.length > 0 && offer(waiting[0]!.slot, waiting[0]!.buffer)) waiting.shift();
    if (waiting.length > 0) setImmediate(retry);
  };
  const driver = new RequestDriver(
    {
      send: (slot, buffer) => {
        if (waiting.length > 0 || !offer(slot, buffer)) {
          waiting.push({ slot, buffer });
          if (waiting.length === 1) setImmediate(retry);
        }
      },
    },
    context,
    config,
  );
  const complete = (position: number): void => {
    for (let slot = 0; slot < SLOTS_MAX; slot++) {
      const end = endPosition[slot]!;
      if (end >= 0 && end <= position) {
        endPosition[slot] = -1;
        driver.complete(slot, requestNumber[slot]!);
      }
    }
  };
  const header = new codecs.MessageHeaderDecoder();
  const progress = new codecs.RecordingProgressDecoder();
  events.onFragment((buffer, offset, length) => {
    if (header.wrap(buffer, offset, length).templateId() !== codecs.RecordingProgressDecoder.TEMPLATE_ID) return;
    recorded = progress.wrapAndCheckHeader(buffer, offset, length).positionAsNumber();
    complete(recorded);
  }, 64);
  context.ready();
  return {
    command: (data) => driver.start(phaseCommand(data)),
    stop: () => {
      driver.stop();
      const final = { completed: driver.completedTotal, stale: driver.stale, offerFailures, recordedPosition: recorded, skeinErrors: errors.count, ...systemCounters(skein, 'archivepub') };
      skein.destroy();
      return final;
    },
  };
}
