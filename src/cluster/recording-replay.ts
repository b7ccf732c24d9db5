/**
 * Reads a recording of this member's archive back (docs/cluster.md, "The log as a recording"):
 * replays [start, stop) on an IPC stream and collects every message with the position it ends
 * at, on the client's duty cycle, bounded by a timeout.
 */
import type { SkeinClient } from '../client/skein-client.js';
import type { Subscription } from '../client/subscription.js';
import type { Agent } from '../agent/agent.js';
import type { ArchiveClient } from '../archive/archive-client.js';
import { FragmentAssembler } from '../logbuffer/fragment-assembler.js';
import type { Header } from '../logbuffer/header.js';
import { ErrorCode, SkeinError } from '../util/errors.js';

export interface RecordedMessage {
  /** Position just past the message's last frame. */
  readonly end: number;
  readonly data: Uint8Array;
}

/**
 * A piece of work on the client's duty cycle with a deadline: `step` does what it can, and `done`
 * resolves once `complete`, or rejects with `timedOut()` when the deadline passes first.
 */
export abstract class TimedTask implements Agent {
  abstract readonly roleName: string;
  private resolve!: () => void;
  private reject!: (error: Error) => void;
  readonly done = new Promise<void>((resolve, reject) => {
    this.resolve = resolve;
    this.reject = reject;
  });
  private readonly deadlineNs: number;
  private finished = false;

  constructor(timeoutMs: number, nowNs: number) {
    this.deadlineNs = nowNs + timeoutMs * 1e6;
  }

  protected abstract step(): number;
  protected abstract get complete(): boolean;
  protected abstract timedOut(): Error;

  doWork(nowNs: number): number {
    if (this.finished) return 0;
    const work = this.step();
    if (this.complete) {
      this.finished = true;
      this.resolve();
    } else if (nowNs > this.deadlineNs) {
      this.finished = true;
      this.reject(this.timedOut());
    }
    return work;
  }
}

class ReplayReader extends TimedTask {
  readonly roleName = 'cluster-recording-reader';
  readonly messages: RecordedMessage[] = [];
  private readonly assembler = new FragmentAssembler((buffer: Uint8Array, offset: number, length: number, header: Header) => {
    this.messages.push({ end: header.position, data: buffer.slice(offset, offset + length) });
  });

  constructor(private readonly subscription: Subscription, private readonly stop: number, private readonly what: string, timeoutMs: number, nowNs: number) {
    super(timeoutMs, nowNs);
  }

  protected step(): number {
    return this.subscription.poll(this.assembler.onFragment, 100);
  }

  protected get complete(): boolean {
    const image = this.subscription.images[0];
    return image !== undefined && image.position >= this.stop;
  }

  protected timedOut(): Error {
    return new SkeinError(ErrorCode.TIMEOUT, `${this.what}: the replay reached ${this.subscription.images[0]?.position ?? 'no image'} of ${this.stop} before the timeout`);
  }
}

/** The messages of `recordingId` between `start` and `stop`, replayed on IPC stream `replayStreamId`. */
export async function readRecording(client: SkeinClient, archive: ArchiveClient, recordingId: number, start: number, stop: number, replayStreamId: number, timeoutMs: number): Promise<RecordedMessage[]> {
  if (stop <= start) return [];
  const subscription = await client.addSubscription('aeron:ipc', replayStreamId);
  const reader = new ReplayReader(subscription, stop, `reading recording ${recordingId} back`, timeoutMs, client.nanoTime());
  client.addAgent(reader);
  try {
    await archive.replay(recordingId, start, stop - start, 'aeron:ipc', replayStreamId);
    await reader.done;
    return reader.messages;
  } finally {
    client.removeAgent(reader);
    subscription.close();
  }
}

/** Waits until the archive no longer records `recordingId` (its publication is gone); bounded by `timeoutMs`. */
export async function awaitRecordingStopped(client: SkeinClient, archive: ArchiveClient, recordingId: number, timeoutMs: number): Promise<number> {
  const deadline = client.nanoTime() + timeoutMs * 1e6;
  while ((await archive.getRecordingPosition(recordingId)) >= 0) {
    if (client.nanoTime() > deadline) throw new SkeinError(ErrorCode.TIMEOUT, `recording ${recordingId} did not stop within ${timeoutMs} ms`);
  }
  return archive.getStopPosition(recordingId);
}

/** The recording the archive made of the IPC publication with `sessionId` on `streamId`, once it exists. */
export async function awaitRecordingOf(client: SkeinClient, archive: ArchiveClient, streamId: number, sessionId: number, timeoutMs: number): Promise<number> {
  const deadline = client.nanoTime() + timeoutMs * 1e6;
  for (;;) {
    const id = await archive.findLastMatchingRecording(0, 'aeron:ipc', streamId, sessionId);
    if (id >= 0) return id;
    if (client.nanoTime() > deadline) throw new SkeinError(ErrorCode.TIMEOUT, `the archive did not start recording IPC stream ${streamId} (session ${sessionId}) within ${timeoutMs} ms`);
  }
}
