/**
 * One replay: sends a recording's frames, read from its segment files, into an exclusive
 * publication that starts at the recording's positions (so replayed positions equal recorded
 * ones). States:
 *
 *   CONNECTING --(publication connected)--> REPLAYING --(end reached, stopped, publication
 *   gone, error)--> DONE
 *   CONNECTING --(connectTimeoutMs passed)--> DONE with an error naming the replay channel
 *
 * The end is either fixed (a bounded length of a stopped recording) or follows a live limit: the
 * recording's position counter while it records, or a counter given by the client (a bounded
 * replay). A replay that follows a live recording ends once the recording has stopped and
 * everything up to its stop position is sent.
 */
import type { Publication } from '../client/publication.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import type { RecordingReader } from './recording-reader.js';

export type ReplaySessionState = 'CONNECTING' | 'REPLAYING' | 'DONE';

/** Where a replay may read up to now. */
export interface ReplayLimit {
  /** The position the replay may read up to at this moment. */
  position(): number;
  /** True once the limit will not move any more (the recording stopped, the counter went away). */
  isFinal(): boolean;
}

export interface ReplaySessionListener {
  /** The replay ended: `error` is null when it sent everything it was asked for or was stopped. */
  onReplayDone(session: ReplaySession, error: SkeinError | null): void;
}

export interface ReplaySessionInit {
  readonly replaySessionId: bigint;
  readonly recordingId: number;
  readonly publication: Publication;
  readonly reader: RecordingReader;
  /** Where the replay ends at the latest (start + length), or Infinity to follow the limit. */
  readonly endPosition: number;
  readonly limit: ReplayLimit;
  readonly connectDeadlineNs: number;
  readonly connectTimeoutMs: number;
  readonly listener: ReplaySessionListener;
}

export class ReplaySession {
  readonly replaySessionId: bigint;
  readonly recordingId: number;
  readonly publication: Publication;
  private readonly reader: RecordingReader;
  private readonly endPosition: number;
  private readonly limit: ReplayLimit;
  private readonly connectDeadlineNs: number;
  private readonly connectTimeoutMs: number;
  private readonly listener: ReplaySessionListener;
  private sessionState: ReplaySessionState = 'CONNECTING';

  constructor(init: ReplaySessionInit) {
    this.replaySessionId = init.replaySessionId;
    this.recordingId = init.recordingId;
    this.publication = init.publication;
    this.reader = init.reader;
    this.endPosition = init.endPosition;
    this.limit = init.limit;
    this.connectDeadlineNs = init.connectDeadlineNs;
    this.connectTimeoutMs = init.connectTimeoutMs;
    this.listener = init.listener;
  }

  get state(): ReplaySessionState {
    return this.sessionState;
  }

  /** Where the next frame to send is. */
  get position(): number {
    return this.reader.position;
  }

  doWork(nowNs: number): number {
    switch (this.sessionState) {
      case 'CONNECTING':
        if (this.publication.isConnected) {
          this.sessionState = 'REPLAYING';
          return 1;
        }
        if (this.publication.isClosed) this.finish(null);
        else if (nowNs >= this.connectDeadlineNs) {
          this.finish(this.error(ErrorCode.TIMEOUT, `no connection established for replayChannel=${this.publication.channel} within connectTimeoutMs=${this.connectTimeoutMs}`, 'CONNECTING'));
        }
        return 0;
      case 'REPLAYING':
        return this.replay();
      case 'DONE':
        return 0;
    }
  }

  /** Ends the replay where it is (a stop request, or the archive closing); idempotent. */
  stop(): void {
    this.finish(null);
  }

  private replay(): number {
    const publication = this.publication;
    if (publication.isClosed || !publication.isConnected) {
      this.finish(null);
      return 1;
    }
    const reader = this.reader;
    let work = 0;
    try {
      for (let i = 0; i < 8; i++) {
        const limitFinal = this.limit.isFinal();
        const end = Math.min(this.endPosition, this.limit.position());
        if (reader.position >= end) {
          if (reader.position >= this.endPosition || limitFinal) this.finish(null);
          break;
        }
        const window = publication.availableWindow;
        const length = reader.read(end, publication.sessionId, publication.streamId, window);
        if (length === 0) break;
        const padding = reader.paddingLength;
        const result = padding > 0 ? publication.appendPadding(padding - 32) : publication.offerBlock(reader.buffer, 0, length);
        if (result < 0) break;
        reader.consume();
        work++;
      }
    } catch (error) {
      this.finish(this.error(error instanceof SkeinError ? error.code : ErrorCode.STORAGE_FAILED, `replay failed at position ${reader.position}: ${error instanceof Error ? error.message : String(error)}`, 'REPLAYING', error));
      return 1;
    }
    return work;
  }

  private finish(error: SkeinError | null): void {
    if (this.sessionState === 'DONE') return;
    this.sessionState = 'DONE';
    this.reader.close();
    this.publication.close();
    this.listener.onReplayDone(this, error);
  }

  private error(code: SkeinError['code'], message: string, state: string, cause?: unknown): SkeinError {
    const p = this.publication;
    return new SkeinError(code, `replay ${this.replaySessionId} of recording ${this.recordingId}: ${message}`, {
      channel: p.channel, streamId: p.streamId, sessionId: p.sessionId, position: this.reader.position, state, ...(cause === undefined ? {} : { cause }),
    });
  }
}
