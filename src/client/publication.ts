import { SkeinError, ErrorCode, plural } from '../util/errors.js';
import type { LogBuffers } from '../logbuffer/log-buffers.js';
import type { LogMetaData } from '../logbuffer/log-meta-data.js';
import { TermAppender } from '../logbuffer/term-appender.js';
import { BufferClaim } from '../logbuffer/buffer-claim.js';
import { rotateLog } from '../logbuffer/log-rotation.js';
import { DATA_HEADER_LENGTH, SESSION_ID_FIELD_OFFSET, STREAM_ID_FIELD_OFFSET, TERM_ID_FIELD_OFFSET, TERM_OFFSET_FIELD_OFFSET, readInt32LE } from '../logbuffer/frame-descriptor.js';
import {
  computeMaxMessageLength,
  computeTermBeginPosition,
  indexByTermCount,
  maxPossiblePosition,
} from '../logbuffer/log-buffer-descriptor.js';
import { ADMIN_ACTION, BACK_PRESSURED, CLOSED, MAX_POSITION_EXCEEDED, NOT_CONNECTED } from './publication-codes.js';
import { ConnectionStatus, type ConnectedOptions, type ConnectionEvent, type ConnectionListener, type ConnectionStatusHost } from './connection-status.js';

/** What a publication needs from the client that created it. */
export interface PublicationOwner extends ConnectionStatusHost {
  releasePublication(publication: Publication): void;
  wakeDriver(): void;
  /** Back-pressure met: lets a driver in another thread know (see DriverConnection.notifyProgress). */
  notifyProgress(): void;
  destinationCommand(
    type: 'ADD_DESTINATION' | 'REMOVE_DESTINATION',
    target: { readonly registrationId: number; readonly channel: string; readonly streamId: number },
    channel: string,
  ): Promise<void>;
}

export interface PublicationInit {
  readonly owner: PublicationOwner;
  readonly channel: string;
  readonly streamId: number;
  readonly sessionId: number;
  readonly registrationId: number;
  readonly exclusive: boolean;
  readonly logBuffers: LogBuffers;
  /** The driver's counter values; the publisher limit lives at `publisherLimitCounterId`. */
  readonly counterValues: Float64Array;
  readonly publisherLimitCounterId: number;
}

/**
 * Appends messages to a stream's log. `offer` and `tryClaim` return the new stream position or a
 * negative code (NOT_CONNECTED, BACK_PRESSURED, ADMIN_ACTION, CLOSED, MAX_POSITION_EXCEEDED):
 * expected outcomes are values, never exceptions. Calls from one thread only.
 */
export class Publication {
  readonly channel: string;
  readonly streamId: number;
  readonly sessionId: number;
  readonly registrationId: number;
  readonly initialTermId: number;
  readonly termBufferLength: number;
  readonly maxMessageLength: number;
  readonly maxPayloadLength: number;
  readonly positionBitsToShift: number;
  readonly maxPossiblePosition: number;
  readonly isExclusive: boolean;

  private readonly owner: PublicationOwner;
  readonly logBuffers: LogBuffers;
  private readonly metaData: LogMetaData;
  private readonly appenders: readonly TermAppender[];
  private readonly headerTemplate: Uint8Array;
  private readonly counterValues: Float64Array;
  private readonly limitCounterId: number;
  private closed = false;
  private readonly status: ConnectionStatus;

  constructor(init: PublicationInit) {
    this.owner = init.owner;
    this.channel = init.channel;
    this.streamId = init.streamId;
    this.sessionId = init.sessionId;
    this.registrationId = init.registrationId;
    this.isExclusive = init.exclusive;
    this.logBuffers = init.logBuffers;
    this.metaData = init.logBuffers.metaData;
    this.counterValues = init.counterValues;
    this.limitCounterId = init.publisherLimitCounterId;
    this.initialTermId = this.metaData.initialTermId;
    this.termBufferLength = init.logBuffers.termLength;
    this.positionBitsToShift = init.logBuffers.positionBitsToShift;
    this.maxMessageLength = computeMaxMessageLength(this.termBufferLength);
    this.maxPayloadLength = this.metaData.mtuLength - 32;
    this.maxPossiblePosition = maxPossiblePosition(this.termBufferLength);
    this.headerTemplate = this.metaData.defaultFrameHeader;
    this.appenders = init.logBuffers.termBuffers.map((term, i) => new TermAppender(term, this.metaData, i));
    this.status = new ConnectionStatus(init.owner, this.subject(), 'publication', () => this.isConnected);
  }

  /**
   * Resolves once a subscriber (or a receiver) is connected, so that offers can succeed. Rejects
   * with ERR_SKEIN_TIMEOUT after `timeoutMs` (no limit by default), with an AbortError whose cause
   * is `signal.reason` when `signal` aborts, and with ERR_SKEIN_CLOSED when the publication closes.
   */
  connected(options: ConnectedOptions = {}): Promise<void> {
    return this.status.wait(options, this.isConnected);
  }

  /**
   * Adds a destination to a multi-destination publication (`control-mode=manual`): from now on
   * every frame also goes to it. `channel` names it, e.g. `aeron:udp?endpoint=127.0.0.1:40456`.
   * Rejects with ERR_SKEIN_DRIVER_COMMAND_FAILED for a publication of another kind or a
   * destination already there.
   */
  addDestination(channel: string): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError('addDestination'));
    return this.owner.destinationCommand('ADD_DESTINATION', this, channel);
  }

  /** Removes a destination added with {@link addDestination}. */
  removeDestination(channel: string): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError('removeDestination'));
    return this.owner.destinationCommand('REMOVE_DESTINATION', this, channel);
  }

  private closedError(what: string): SkeinError {
    return new SkeinError(ErrorCode.CLOSED, `${what} on a closed publication`, { ...this.subject(), state: 'CLOSED' });
  }

  /** Calls `listener` on every later `connected`, `disconnected` and `closed` event; returns the function that stops it. */
  onConnectionChange(listener: ConnectionListener): () => void {
    return this.status.listen(listener);
  }

  /** Later connection events as an async iterator; ends after `closed`, throws an AbortError when `signal` aborts. */
  connectionEvents(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<ConnectionEvent> {
    return this.status.events(options);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** True while at least one subscriber (or receiver) is connected to this stream. */
  get isConnected(): boolean {
    return !this.closed && this.metaData.isConnected;
  }

  /** The position the next message will be written at, or CLOSED. */
  get position(): number {
    if (this.closed) return CLOSED;
    const termCount = this.metaData.activeTermCount;
    const index = indexByTermCount(termCount);
    const termOffset = Math.min(this.metaData.rawTailOffset(index), this.termBufferLength);
    const termId = this.metaData.rawTailTermId(index);
    return computeTermBeginPosition(termId, this.positionBitsToShift, this.initialTermId) + termOffset;
  }

  /** How many bytes the publisher may write now (the limit less the position), or CLOSED. */
  get availableWindow(): number {
    return this.closed ? CLOSED : this.counterValues[this.limitCounterId]! - this.position;
  }

  /** The position up to which the publisher may currently write. */
  get positionLimit(): number {
    return this.closed ? CLOSED : this.counterValues[this.limitCounterId]!;
  }

  /**
   * Appends one message. Messages longer than the MTU payload are split into fragments that a
   * subscriber's FragmentAssembler joins again. Returns the new position or a negative code.
   */
  offer(buffer: Uint8Array, offset = 0, length?: number, reservedValueLow = 0, reservedValueHigh = 0): number {
    if (this.closed) return CLOSED;
    if (!(buffer instanceof Uint8Array)) this.notBytes('offer', buffer);
    if (length === undefined) length = buffer.length - offset;
    this.checkRange(buffer, offset, length);
    const meta = this.metaData;
    const termCount = meta.activeTermCount;
    const index = indexByTermCount(termCount);
    const termId = meta.rawTailTermId(index);
    const rawOffset = meta.rawTailOffset(index);
    if (termCount !== ((termId - this.initialTermId) | 0)) return ADMIN_ACTION;
    const termOffset = Math.min(rawOffset, this.termBufferLength);
    const termBeginPosition = termCount * this.termBufferLength;
    const position = termBeginPosition + termOffset;
    if (position >= this.counterValues[this.limitCounterId]!) return this.backPressureStatus(position, length);
    const appender = this.appenders[index]!;
    const result =
      length <= this.maxPayloadLength
        ? appender.appendUnfragmentedAt(rawOffset, this.headerTemplate, buffer, offset, length, reservedValueLow, reservedValueHigh, termId)
        : appender.appendFragmentedMessage(
            this.headerTemplate, buffer, offset, length, this.maxPayloadLength, reservedValueLow, reservedValueHigh, termId,
          );
    return this.newPosition(termCount, termId, termBeginPosition, position, result);
  }

  /** Appends one message gathered from several buffers (all of each buffer is used). */
  offerV(buffers: readonly Uint8Array[]): number {
    if (this.closed) return CLOSED;
    if (!Array.isArray(buffers)) this.notBytes('offerV', buffers);
    let length = 0;
    for (let i = 0; i < buffers.length; i++) {
      const buffer = buffers[i];
      if (!(buffer instanceof Uint8Array)) this.notBytes(`offerV buffers[${i}]`, buffer);
      length += buffer.length;
    }
    this.checkLength(length);
    const meta = this.metaData;
    const termCount = meta.activeTermCount;
    const index = indexByTermCount(termCount);
    const termId = meta.rawTailTermId(index);
    if (termCount !== ((termId - this.initialTermId) | 0)) return ADMIN_ACTION;
    const termOffset = Math.min(meta.rawTailOffset(index), this.termBufferLength);
    const termBeginPosition = computeTermBeginPosition(termId, this.positionBitsToShift, this.initialTermId);
    const position = termBeginPosition + termOffset;
    if (position >= this.counterValues[this.limitCounterId]!) return this.backPressureStatus(position, length);
    const appender = this.appenders[index]!;
    const result =
      length <= this.maxPayloadLength
        ? appender.appendUnfragmentedMessageV(this.headerTemplate, buffers, length, 0, 0, termId)
        : appender.appendFragmentedMessageV(this.headerTemplate, buffers, length, this.maxPayloadLength, 0, 0, termId);
    return this.newPosition(termCount, termId, termBeginPosition, position, result);
  }

  /**
   * Claims space for a message of `length` bytes (at most the MTU payload) to be written in place;
   * the caller fills `bufferClaim.buffer` from `bufferClaim.offset` and then commits or aborts it.
   */
  tryClaim(length: number, bufferClaim: BufferClaim): number {
    if (this.closed) return CLOSED;
    if (!Number.isInteger(length) || length < 0 || length > this.maxPayloadLength) {
      throw new SkeinError(
        ErrorCode.MESSAGE_TOO_LONG,
        `tryClaim length ${length} is outside 0..${this.maxPayloadLength} (the MTU payload)`,
        this.subject(),
      );
    }
    const meta = this.metaData;
    const termCount = meta.activeTermCount;
    const index = indexByTermCount(termCount);
    const termId = meta.rawTailTermId(index);
    if (termCount !== ((termId - this.initialTermId) | 0)) return ADMIN_ACTION;
    const termOffset = Math.min(meta.rawTailOffset(index), this.termBufferLength);
    const termBeginPosition = computeTermBeginPosition(termId, this.positionBitsToShift, this.initialTermId);
    const position = termBeginPosition + termOffset;
    if (position >= this.counterValues[this.limitCounterId]!) return this.backPressureStatus(position, length);
    const result = this.appenders[index]!.claim(this.headerTemplate, length, bufferClaim, termId);
    return this.newPosition(termCount, termId, termBeginPosition, position, result);
  }

  /**
   * Appends a block of whole frames as they are (a recording being replayed, so that replayed
   * positions equal recorded ones): `length` bytes from `offset`, starting with a frame whose
   * term offset is this publication's, of this publication's session and stream, and within the
   * current term. Exclusive publications only. Returns the new position or a negative code; a
   * block that does not fit these rules throws ERR_SKEIN_ARG_INVALID naming the rule.
   */
  offerBlock(buffer: Uint8Array, offset: number, length: number): number {
    if (this.closed) return CLOSED;
    if (!this.isExclusive) throw new SkeinError(ErrorCode.ARG_INVALID, 'offerBlock needs an exclusive publication', this.subject());
    if (!(buffer instanceof Uint8Array)) this.notBytes('offerBlock', buffer);
    if (!(Number.isInteger(offset) && Number.isInteger(length) && offset >= 0 && length >= 32 && offset + length <= buffer.length && length % 32 === 0)) {
      throw new SkeinError(ErrorCode.ARG_INVALID, `offerBlock range offset=${offset} length=${length} is invalid for a buffer of ${buffer.length} bytes; a block is whole 32-byte aligned frames`, this.subject());
    }
    const meta = this.metaData;
    const termCount = meta.activeTermCount;
    const index = indexByTermCount(termCount);
    const termId = meta.rawTailTermId(index);
    const rawOffset = meta.rawTailOffset(index);
    if (termCount !== ((termId - this.initialTermId) | 0)) return ADMIN_ACTION;
    const termBeginPosition = termCount * this.termBufferLength;
    // The term is full: rotate to the next one (as an offer that does not fit does).
    if (rawOffset >= this.termBufferLength) return this.newPosition(termCount, termId, termBeginPosition, termBeginPosition + this.termBufferLength, 0);
    const blockTermOffset = readInt32LE(buffer, offset + TERM_OFFSET_FIELD_OFFSET);
    const blockSessionId = readInt32LE(buffer, offset + SESSION_ID_FIELD_OFFSET);
    const blockStreamId = readInt32LE(buffer, offset + STREAM_ID_FIELD_OFFSET);
    const blockTermId = readInt32LE(buffer, offset + TERM_ID_FIELD_OFFSET);
    if (blockTermOffset !== rawOffset || blockTermId !== termId || blockSessionId !== this.sessionId || blockStreamId !== this.streamId || rawOffset + length > this.termBufferLength) {
      throw new SkeinError(
        ErrorCode.ARG_INVALID,
        `offerBlock: the block's first frame (termId=${blockTermId} termOffset=${blockTermOffset} sessionId=${blockSessionId} streamId=${blockStreamId}, ${length} bytes) ` +
          `does not continue the stream at termId=${termId} termOffset=${rawOffset} within the term of ${this.termBufferLength} bytes`,
        this.subject(),
      );
    }
    const position = termBeginPosition + rawOffset;
    if (position + length > this.counterValues[this.limitCounterId]!) return this.backPressureStatus(position, length);
    this.appenders[index]!.appendBlock(rawOffset, buffer, offset, length);
    this.owner.wakeDriver();
    return position + length;
  }

  /**
   * Appends a PAD frame covering `length` bytes after its 32-byte header (a replayed recording's
   * padding). Exclusive publications only; the padding must fit in the current term. Returns the
   * new position or a negative code.
   */
  appendPadding(length: number): number {
    if (this.closed) return CLOSED;
    if (!this.isExclusive) throw new SkeinError(ErrorCode.ARG_INVALID, 'appendPadding needs an exclusive publication', this.subject());
    if (!(Number.isInteger(length) && length >= 0 && length <= this.termBufferLength - DATA_HEADER_LENGTH)) {
      throw new SkeinError(ErrorCode.ARG_INVALID, `appendPadding length ${String(length)} is outside 0..${this.termBufferLength - DATA_HEADER_LENGTH}`, this.subject());
    }
    const meta = this.metaData;
    const termCount = meta.activeTermCount;
    const index = indexByTermCount(termCount);
    const termId = meta.rawTailTermId(index);
    if (termCount !== ((termId - this.initialTermId) | 0)) return ADMIN_ACTION;
    const termOffset = Math.min(meta.rawTailOffset(index), this.termBufferLength);
    const termBeginPosition = termCount * this.termBufferLength;
    const position = termBeginPosition + termOffset;
    if (position >= this.counterValues[this.limitCounterId]!) return this.backPressureStatus(position, length);
    const result = this.appenders[index]!.appendPadding(this.headerTemplate, length, termId);
    return this.newPosition(termCount, termId, termBeginPosition, position, result);
  }

  /** Releases the publication; further offers return CLOSED. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.owner.releasePublication(this);
    this.status.close();
  }

  /** @internal Marks the publication closed without telling the driver (the driver or client went away). */
  internalClose(cause?: Error): void {
    this.closed = true;
    this.status.close(cause);
  }

  private newPosition(termCount: number, termId: number, termBeginPosition: number, position: number, result: number): number {
    if (result > 0) {
      this.owner.wakeDriver();
      return termBeginPosition + result;
    }
    if (position + this.termBufferLength > this.maxPossiblePosition) return MAX_POSITION_EXCEEDED;
    rotateLog(this.metaData, termCount, termId);
    this.owner.wakeDriver();
    return ADMIN_ACTION;
  }

  private backPressureStatus(position: number, length: number): number {
    if (position + length >= this.maxPossiblePosition) return MAX_POSITION_EXCEEDED;
    if (!this.metaData.isConnected) return NOT_CONNECTED;
    this.owner.notifyProgress();
    return BACK_PRESSURED;
  }

  private checkRange(buffer: Uint8Array, offset: number, length: number): void {
    if (offset < 0 || length < 0 || offset + length > buffer.length || !Number.isInteger(offset) || !Number.isInteger(length)) {
      throw new SkeinError(
        ErrorCode.ARG_INVALID,
        `offer range offset=${offset} length=${length} is outside the buffer of ${plural(buffer.length, 'byte', 'bytes')}`,
        this.subject(),
      );
    }
    this.checkLength(length);
  }

  /** A payload that is not bytes: a string, an ArrayBuffer or a number would be written wrongly. */
  private notBytes(what: string, value: unknown): never {
    const got = value === null ? 'null' : typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
    const hint = typeof value === 'string' ? " (encode text first: new TextEncoder().encode(text))" : value instanceof ArrayBuffer ? ' (wrap it: new Uint8Array(buffer))' : '';
    throw new SkeinError(ErrorCode.ARG_INVALID, `${what}: the payload must be a Uint8Array (a Buffer is one), got ${got}${hint}`, this.subject());
  }

  private checkLength(length: number): void {
    if (length > this.maxMessageLength) {
      throw new SkeinError(
        ErrorCode.MESSAGE_TOO_LONG,
        `message length ${length} exceeds the maximum ${this.maxMessageLength} for term length ${this.termBufferLength}; allowed 0..${this.maxMessageLength}`,
        this.subject(),
      );
    }
  }

  private subject(): { channel: string; streamId: number; sessionId: number } {
    return { channel: this.channel, streamId: this.streamId, sessionId: this.sessionId };
  }
}
