/**
 * Reassembles fragmented messages before handing them to a delegate handler (PROTOCOL.md §6),
 * keeping one growable buffer per session id.
 *
 * - Unfragmented frames (BEGIN|END) go straight to the delegate.
 * - BEGIN starts a new message in the session's buffer (dropping any partial one).
 * - A continuation is kept only if its term offset equals the aligned end of the previous
 *   fragment; otherwise the partial message is discarded.
 * - On END the whole message is delivered from the assembler's buffer. The header handed over
 *   carries the END fragment's fields, except that `frameLength` is the whole message plus one
 *   header, the flags also have BEGIN set (so `isBeginFragment && isEndFragment` marks a complete
 *   message), and `position` is the END fragment's end.
 *
 * Allocation happens only when a session is first seen and when a message larger than the
 * session's buffer arrives (the buffer doubles).
 */
import { ControlledPollAction } from './controlled-poll-action.js';
import { copyBytes } from './copy-bytes.js';
import { BEGIN_FRAG_FLAG, DATA_HEADER_LENGTH, END_FRAG_FLAG, FLAGS_FIELD_OFFSET, UNFRAGMENTED, writeInt32LE } from './frame-descriptor.js';
import { Header } from './header.js';
import type { ControlledFragmentHandler, FragmentHandler } from './header.js';

/** A session's partial message. */
class BufferBuilder {
  buffer: Uint8Array;
  limit = 0;
  nextTermOffset = -1;

  constructor(initialLength: number) {
    this.buffer = new Uint8Array(initialLength);
  }

  reset(): void {
    this.limit = 0;
    this.nextTermOffset = -1;
  }

  append(src: Uint8Array, srcOffset: number, length: number): void {
    const required = this.limit + length;
    if (required > this.buffer.length) {
      let capacity = Math.max(this.buffer.length, 64);
      while (capacity < required) {
        capacity *= 2;
      }
      const grown = new Uint8Array(capacity);
      grown.set(this.buffer.subarray(0, this.limit));
      this.buffer = grown;
    }
    copyBytes(this.buffer, this.limit, src, srcOffset, length);
    this.limit = required;
  }
}

/** Shared machinery of the two assemblers. */
class SessionBuffers {
  private readonly builders = new Map<number, BufferBuilder>();
  private readonly headerCopy = new Uint8Array(DATA_HEADER_LENGTH);
  readonly completeHeader = new Header(0, 16);

  constructor(private readonly initialBufferLength: number) {}

  /** Handles a BEGIN or a continuation; returns the builder when the message is complete. */
  accept(buffer: Uint8Array, offset: number, length: number, header: Header): BufferBuilder | null {
    const flags = header.flags;
    const sessionId = header.sessionId;
    let builder = this.builders.get(sessionId);
    if ((flags & BEGIN_FRAG_FLAG) !== 0) {
      if (builder === undefined) {
        builder = new BufferBuilder(this.initialBufferLength);
        this.builders.set(sessionId, builder);
      }
      builder.reset();
      builder.append(buffer, offset, length);
      builder.nextTermOffset = header.nextTermOffset;
      return null;
    }
    if (builder === undefined) {
      return null;
    }
    if (builder.nextTermOffset < 0 || header.termOffset !== builder.nextTermOffset) {
      builder.reset();
      return null;
    }
    builder.append(buffer, offset, length);
    if ((flags & END_FRAG_FLAG) !== 0) {
      return builder;
    }
    builder.nextTermOffset = header.nextTermOffset;
    return null;
  }

  /** Prepares {@link completeHeader} for a message assembled up to the END fragment `header`. */
  completeFor(header: Header, messageLength: number): Header {
    const copy = this.headerCopy;
    copyBytes(copy, 0, header.buffer, header.offset, DATA_HEADER_LENGTH);
    writeInt32LE(copy, 0, messageLength + DATA_HEADER_LENGTH);
    copy[FLAGS_FIELD_OFFSET] = copy[FLAGS_FIELD_OFFSET]! | BEGIN_FRAG_FLAG;
    const complete = this.completeHeader;
    complete.buffer = copy;
    complete.offset = 0;
    complete.initialTermId = header.initialTermId;
    complete.positionBitsToShift = header.positionBitsToShift;
    complete.context = header.context;
    complete.overrideNextTermOffset(header.nextTermOffset);
    return complete;
  }

  free(sessionId: number): boolean {
    return this.builders.delete(sessionId);
  }

  clear(): void {
    this.builders.clear();
  }
}

export class FragmentAssembler {
  /** The handler to give a reader; bound once. */
  readonly onFragment: FragmentHandler;
  private readonly sessions: SessionBuffers;

  constructor(
    private readonly delegate: FragmentHandler,
    initialBufferLength = 4096,
  ) {
    this.sessions = new SessionBuffers(initialBufferLength);
    this.onFragment = (buffer, offset, length, header) => this.handle(buffer, offset, length, header);
  }

  /** Drops the buffer kept for `sessionId` (e.g. when its image goes away). */
  freeSessionBuffer(sessionId: number): boolean {
    return this.sessions.free(sessionId);
  }

  /** Drops every session buffer. */
  clear(): void {
    this.sessions.clear();
  }

  private handle(buffer: Uint8Array, offset: number, length: number, header: Header): void {
    if ((header.flags & UNFRAGMENTED) === UNFRAGMENTED) {
      this.delegate(buffer, offset, length, header);
      return;
    }
    const builder = this.sessions.accept(buffer, offset, length, header);
    if (builder === null) {
      return;
    }
    const messageLength = builder.limit;
    try {
      this.delegate(builder.buffer, 0, messageLength, this.sessions.completeFor(header, messageLength));
    } finally {
      builder.reset();
    }
  }
}

/**
 * The controlled variant: the delegate's action for a complete message is returned to the
 * reader; fragments before the END return CONTINUE. If the delegate answers ABORT, the END
 * fragment's bytes are taken back out of the buffer and the partial message is kept, so the
 * reader's re-delivery of the END fragment completes it again.
 */
export class ControlledFragmentAssembler {
  readonly onFragment: ControlledFragmentHandler;
  private readonly sessions: SessionBuffers;

  constructor(
    private readonly delegate: ControlledFragmentHandler,
    initialBufferLength = 4096,
  ) {
    this.sessions = new SessionBuffers(initialBufferLength);
    this.onFragment = (buffer, offset, length, header) => this.handle(buffer, offset, length, header);
  }

  freeSessionBuffer(sessionId: number): boolean {
    return this.sessions.free(sessionId);
  }

  clear(): void {
    this.sessions.clear();
  }

  private handle(buffer: Uint8Array, offset: number, length: number, header: Header): ControlledPollAction {
    if ((header.flags & UNFRAGMENTED) === UNFRAGMENTED) {
      return this.delegate(buffer, offset, length, header);
    }
    const builder = this.sessions.accept(buffer, offset, length, header);
    if (builder === null) {
      return ControlledPollAction.CONTINUE;
    }
    const messageLength = builder.limit;
    const nextTermOffset = builder.nextTermOffset;
    let action: ControlledPollAction;
    try {
      action = this.delegate(builder.buffer, 0, messageLength, this.sessions.completeFor(header, messageLength));
    } catch (error) {
      builder.reset();
      throw error;
    }
    if (action === ControlledPollAction.ABORT) {
      builder.limit = messageLength - length;
      builder.nextTermOffset = nextTermOffset;
    } else {
      builder.reset();
    }
    return action;
  }
}
