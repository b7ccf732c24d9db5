import { SkeinError, ErrorCode, type ErrorSubject } from '../util/errors.js';
import type { LogBuffers } from '../logbuffer/log-buffers.js';
import type { LogMetaData } from '../logbuffer/log-meta-data.js';
import { Header, type FragmentHandler } from '../logbuffer/header.js';
import type { ControlledFragmentHandler } from '../logbuffer/header.js';
import { ControlledPollAction } from '../logbuffer/controlled-poll-action.js';
import { TermReader } from '../logbuffer/term-reader.js';
import { TermScanner } from '../logbuffer/term-scanner.js';
import { DATA_HEADER_LENGTH } from '../logbuffer/frame-descriptor.js';

/**
 * Receives a block of whole frames from {@link Image.blockPoll}: `length` bytes of `termBuffer`
 * from `termOffset`, in the term `termId` of the stream `sessionId`. Valid only during the call.
 */
export type BlockHandler = (termBuffer: Uint8Array, termOffset: number, length: number, sessionId: number, termId: number) => void;
import { computeTermOffsetFromPosition, indexByPosition } from '../logbuffer/log-buffer-descriptor.js';

/** Throws ERR_SKEIN_ARG_INVALID for a poll whose handler is not a function or whose limit is not a number >= 1. */
export function badPollArguments(method: string, handler: unknown, fragmentLimit: unknown, subject: ErrorSubject): never {
  const problem =
    typeof handler !== 'function' ? `handler must be a function, got ${typeof handler}` : `fragmentLimit ${String(fragmentLimit)} is invalid; allowed a number >= 1`;
  throw new SkeinError(ErrorCode.ARG_INVALID, `${method}: ${problem}`, { channel: subject.channel, streamId: subject.streamId, ...(subject.sessionId === undefined ? {} : { sessionId: subject.sessionId }) });
}

/** Told when a handler given to an image's poll throws; the fragment already counts as consumed. */
export interface ImageErrorReporter {
  onFragmentHandlerError(image: Image, error: unknown, position: number): void;
}

export interface ImageInit {
  readonly correlationId: number;
  readonly subscriptionRegistrationId: number;
  readonly sessionId: number;
  readonly streamId: number;
  readonly channel: string;
  readonly sourceIdentity: string;
  readonly logBuffers: LogBuffers;
  readonly counterValues: Float64Array;
  readonly subscriberPositionCounterId: number;
  readonly errorReporter: ImageErrorReporter;
}

/**
 * One publisher's stream as seen by one subscription: a view of the log the driver rebuilds,
 * read in place (zero copy), and this subscriber's position in it, which the driver uses for flow
 * control.
 */
export class Image {
  readonly correlationId: number;
  readonly subscriptionRegistrationId: number;
  readonly sessionId: number;
  readonly streamId: number;
  readonly channel: string;
  readonly sourceIdentity: string;
  readonly initialTermId: number;
  readonly termBufferLength: number;
  readonly positionBitsToShift: number;
  readonly logBuffers: LogBuffers;

  private readonly metaData: LogMetaData;
  private readonly termBuffers: readonly Uint8Array[];
  private readonly counterValues: Float64Array;
  private readonly positionId: number;
  private readonly header: Header;
  private readonly reader = new TermReader();
  private readonly scanner = new TermScanner();
  private readonly errorReporter: ImageErrorReporter;
  private closed = false;
  private finalPosition = 0;

  constructor(init: ImageInit) {
    this.correlationId = init.correlationId;
    this.subscriptionRegistrationId = init.subscriptionRegistrationId;
    this.sessionId = init.sessionId;
    this.streamId = init.streamId;
    this.channel = init.channel;
    this.sourceIdentity = init.sourceIdentity;
    this.logBuffers = init.logBuffers;
    this.metaData = init.logBuffers.metaData;
    this.termBuffers = init.logBuffers.termBuffers;
    this.termBufferLength = init.logBuffers.termLength;
    this.positionBitsToShift = init.logBuffers.positionBitsToShift;
    this.initialTermId = this.metaData.initialTermId;
    this.counterValues = init.counterValues;
    this.positionId = init.subscriberPositionCounterId;
    this.errorReporter = init.errorReporter;
    this.header = new Header(this.initialTermId, this.positionBitsToShift);
    this.header.context = this;
  }

  /** This subscriber's position in the stream. */
  get position(): number {
    return this.closed ? this.finalPosition : this.counterValues[this.positionId]!;
  }

  /**
   * How many ways frames of this image have arrived lately: 1 for a plain image; on a
   * multi-destination subscription, the destinations that carried frames within the image
   * liveness timeout (a replay merge waits for the replay and the live stream both).
   */
  get activeTransportCount(): number {
    return this.metaData.activeTransportCount;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** True once the publisher ended the stream and this subscriber consumed all of it. */
  get isEndOfStream(): boolean {
    return this.closed ? this.finalPosition >= this.metaData.endOfStreamPosition : this.position >= this.metaData.endOfStreamPosition;
  }

  /**
   * Reads up to `fragmentLimit` fragments, handing each to `handler`; returns how many. A handler
   * that throws does not stop the stream: its fragment counts as consumed, the error goes to the
   * client's error handler (code ERR_SKEIN_HANDLER_FAILED, naming channel, stream, session and
   * position) and is counted, and the next poll goes on after that fragment.
   */
  poll(handler: FragmentHandler, fragmentLimit: number): number {
    if (typeof handler !== 'function' || !(fragmentLimit >= 1)) badPollArguments('poll', handler, fragmentLimit, this);
    if (this.closed) return 0;
    const values = this.counterValues;
    const position = values[this.positionId]!;
    const termOffset = computeTermOffsetFromPosition(position, this.positionBitsToShift);
    const termBuffer = this.termBuffers[indexByPosition(position, this.positionBitsToShift)]!;
    const reader = this.reader;
    const fragments = reader.read(termBuffer, termOffset, handler, fragmentLimit, this.header, this.metaData.sharedAcrossThreads);
    const newPosition = position + (reader.offset - termOffset);
    if (newPosition > position) values[this.positionId] = newPosition;
    if (reader.handlerFailed) this.reportHandlerError(position + (reader.handlerErrorOffset - termOffset));
    return fragments;
  }

  /**
   * Like poll, but the handler decides per fragment: CONTINUE, COMMIT (make the position visible
   * now), BREAK (stop after this fragment) or ABORT (stop and see this fragment again next time).
   * A handler that throws is treated as in {@link poll}: its fragment is consumed and reported.
   */
  controlledPoll(handler: ControlledFragmentHandler, fragmentLimit: number): number {
    if (typeof handler !== 'function' || !(fragmentLimit >= 1)) badPollArguments('controlledPoll', handler, fragmentLimit, this);
    if (this.closed) return 0;
    const values = this.counterValues;
    const position = values[this.positionId]!;
    const termOffset = computeTermOffsetFromPosition(position, this.positionBitsToShift);
    const termBuffer = this.termBuffers[indexByPosition(position, this.positionBitsToShift)]!;
    const reader = this.reader;
    const fragments = reader.controlledRead(termBuffer, termOffset, handler, fragmentLimit, this.header, this.metaData.sharedAcrossThreads);
    const newPosition = position + (reader.offset - termOffset);
    if (newPosition > position) values[this.positionId] = newPosition;
    if (reader.handlerFailed) this.reportHandlerError(position + (reader.handlerErrorOffset - termOffset));
    return fragments;
  }

  /**
   * Hands the next block of whole frames, in place, to `handler`: at most `blockLengthLimit`
   * bytes (and never past the end of the current term), then moves this subscriber's position
   * past them; returns how far it moved. A PAD frame ends a block and is handed over as its
   * 32-byte header alone, while the position moves past the whole padded range. This is how a
   * recorder copies a stream's frames verbatim. A handler that throws consumes nothing: the
   * error goes to the caller and the same block comes again at the next call.
   */
  blockPoll(handler: BlockHandler, blockLengthLimit: number): number {
    if (typeof handler !== 'function' || !(blockLengthLimit >= DATA_HEADER_LENGTH)) {
      const problem = typeof handler !== 'function' ? `handler must be a function, got ${typeof handler}` : `blockLengthLimit ${String(blockLengthLimit)} is invalid; allowed a number >= ${DATA_HEADER_LENGTH}`;
      throw new SkeinError(ErrorCode.ARG_INVALID, `blockPoll: ${problem}`, { channel: this.channel, streamId: this.streamId, sessionId: this.sessionId });
    }
    if (this.closed) return 0;
    const values = this.counterValues;
    const position = values[this.positionId]!;
    const termOffset = computeTermOffsetFromPosition(position, this.positionBitsToShift);
    const termBuffer = this.termBuffers[indexByPosition(position, this.positionBitsToShift)]!;
    const length = this.scanner.scanForAvailability(termBuffer, termOffset, blockLengthLimit);
    if (length === 0) return 0;
    const termId = (this.initialTermId + Math.floor(position / this.termBufferLength)) | 0;
    handler(termBuffer, termOffset, length, this.sessionId, termId);
    const consumed = length + this.scanner.padding;
    values[this.positionId] = position + consumed;
    return consumed;
  }

  private reportHandlerError(fragmentPosition: number): void {
    const reader = this.reader;
    const error = reader.handlerError;
    reader.handlerError = undefined;
    reader.handlerFailed = false;
    this.errorReporter.onFragmentHandlerError(this, error, fragmentPosition);
  }

  /**
   * @internal Called by the client conductor when the driver removed the image, with the position
   * the driver read before it freed the position counter (the counter itself may read 0 by now).
   */
  internalClose(finalPosition?: number): void {
    if (this.closed) return;
    this.finalPosition = finalPosition ?? this.counterValues[this.positionId]!;
    this.closed = true;
  }
}

export { ControlledPollAction };
