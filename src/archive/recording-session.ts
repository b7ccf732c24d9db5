/**
 * One recording in progress: copies its image's frames, block by block, into segment files and
 * keeps its recording position counter (rec-pos) at the position recorded so far. States:
 *
 *   RECORDING --(image ended, stop asked, or a write failed)--> DONE
 *
 * A write that fails (full disk, device error) consumes nothing, so everything before the
 * failure's position stays recorded and the recording stops there with the error.
 */
import type { Image } from '../client/image.js';
import type { Counter } from '../client/counter.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import type { RecordingWriter } from './recording-writer.js';

export type RecordingSessionState = 'RECORDING' | 'DONE';

/** Told when a recording session ends: the position it recorded up to, and why it ended. */
export interface RecordingSessionListener {
  onRecordingDone(session: RecordingSession, stopPosition: number, error: SkeinError | null): void;
}

export interface RecordingSessionInit {
  readonly recordingId: number;
  readonly image: Image;
  readonly writer: RecordingWriter;
  readonly position: Counter;
  /** Most bytes written per block (the archive's fileIoMaxLength). */
  readonly blockLengthLimit: number;
  readonly listener: RecordingSessionListener;
}

export class RecordingSession {
  readonly recordingId: number;
  readonly image: Image;
  private readonly writer: RecordingWriter;
  private readonly positionCounter: Counter;
  private readonly blockLengthLimit: number;
  private readonly listener: RecordingSessionListener;
  private sessionState: RecordingSessionState = 'RECORDING';
  private stopAsked = false;
  private readonly onBlock: RecordingWriter['onBlock'];

  constructor(init: RecordingSessionInit) {
    this.recordingId = init.recordingId;
    this.image = init.image;
    this.writer = init.writer;
    this.positionCounter = init.position;
    this.blockLengthLimit = init.blockLengthLimit;
    this.listener = init.listener;
    this.onBlock = init.writer.onBlock;
    this.positionCounter.set(init.image.position);
  }

  get state(): RecordingSessionState {
    return this.sessionState;
  }

  /** The position recorded so far (what the rec-pos counter shows). */
  get recordedPosition(): number {
    return this.positionCounter.isClosed ? this.image.position : this.positionCounter.value;
  }

  get positionCounterId(): number {
    return this.positionCounter.id;
  }

  /** Ends the recording at the next duty cycle, after what has arrived so far is written. */
  stop(): void {
    this.stopAsked = true;
  }

  doWork(): number {
    if (this.sessionState !== 'RECORDING') return 0;
    let work = 0;
    try {
      for (let i = 0; i < 8; i++) {
        const consumed = this.image.blockPoll(this.onBlock, this.blockLengthLimit);
        if (consumed === 0) break;
        work += consumed;
      }
    } catch (error) {
      this.positionCounter.set(this.image.position);
      this.finish(this.writeError(error));
      return 1;
    }
    if (work > 0) this.positionCounter.set(this.image.position);
    if (this.stopAsked || this.image.isClosed || this.image.isEndOfStream) {
      if (work === 0 || this.stopAsked) this.finish(null);
    }
    return work > 0 ? 1 : 0;
  }

  /** Ends the recording now, at the position recorded so far; idempotent. */
  abort(): void {
    this.finish(null);
  }

  private finish(error: SkeinError | null): void {
    if (this.sessionState === 'DONE') return;
    this.sessionState = 'DONE';
    const stopPosition = this.image.position;
    let closeError: SkeinError | null = null;
    try {
      this.writer.close();
    } catch (e) {
      closeError = this.writeError(e);
    }
    this.positionCounter.close();
    this.listener.onRecordingDone(this, stopPosition, error ?? closeError);
  }

  private writeError(error: unknown): SkeinError {
    const image = this.image;
    const reason = error instanceof Error ? error.message : String(error);
    return new SkeinError(
      error instanceof SkeinError ? error.code : ErrorCode.STORAGE_FAILED,
      `recording ${this.recordingId} stopped at position ${image.position}: ${reason}`,
      { channel: image.channel, streamId: image.streamId, sessionId: image.sessionId, position: image.position, cause: error },
    );
  }
}
