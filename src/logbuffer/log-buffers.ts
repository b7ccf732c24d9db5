/**
 * One log: three term partitions followed (at the last 4096 bytes) by the metadata, in a single
 * `SharedArrayBuffer` so that worker threads can map the same bytes (PROTOCOL.md §5). An
 * `ArrayBuffer` is used instead when `shared: false`.
 */
import { ErrorCode, SkeinError } from '../util/errors.js';
import {
  LOG_META_DATA_LENGTH,
  LOG_PAGE_SIZE_OFFSET,
  LOG_TERM_LENGTH_OFFSET,
  PAGE_MIN_SIZE,
  PARTITION_COUNT,
  checkPageSize,
  checkTermLength,
  computeLogLength,
  positionBitsToShift,
} from './log-buffer-descriptor.js';
import { readInt32LE } from './frame-descriptor.js';
import { LogMetaData } from './log-meta-data.js';

export interface LogBuffersAllocateOptions {
  /** Power of two in [64 KiB, 1 GiB]. */
  termLength: number;
  /** Power of two in [4 KiB, 1 GiB]; @default 4096 */
  pageSize?: number;
  /** Back the log with a SharedArrayBuffer; @default true */
  shared?: boolean;
}

export class LogBuffers {
  readonly buffer: SharedArrayBuffer | ArrayBuffer;
  readonly termLength: number;
  readonly positionBitsToShift: number;
  /** Views of the three partitions, in partition order. */
  readonly termBuffers: readonly Uint8Array[];
  readonly metaData: LogMetaData;

  private constructor(buffer: SharedArrayBuffer | ArrayBuffer, termLength: number) {
    this.buffer = buffer;
    this.termLength = termLength;
    this.positionBitsToShift = positionBitsToShift(termLength);
    const terms: Uint8Array[] = [];
    for (let i = 0; i < PARTITION_COUNT; i++) {
      terms.push(new Uint8Array(buffer, i * termLength, termLength));
    }
    this.termBuffers = Object.freeze(terms);
    this.metaData = new LogMetaData(new Uint8Array(buffer, buffer.byteLength - LOG_META_DATA_LENGTH, LOG_META_DATA_LENGTH));
  }

  /** Allocates a zeroed log and stores its term length and page size in the metadata. */
  static allocate(options: LogBuffersAllocateOptions): LogBuffers {
    const { termLength, pageSize = PAGE_MIN_SIZE, shared = true } = options;
    checkTermLength(termLength);
    checkPageSize(pageSize);
    const logLength = computeLogLength(termLength, pageSize);
    let buffer: SharedArrayBuffer | ArrayBuffer;
    try {
      buffer = shared ? new SharedArrayBuffer(logLength) : new ArrayBuffer(logLength);
    } catch (cause) {
      throw new SkeinError(
        ErrorCode.CONFIG_INVALID,
        `cannot allocate a log of ${logLength} bytes (termLength=${termLength}, pageSize=${pageSize}); use a smaller termLength`,
        { cause },
      );
    }
    const logBuffers = new LogBuffers(buffer, termLength);
    logBuffers.metaData.termLength = termLength;
    logBuffers.metaData.pageSize = pageSize;
    return logBuffers;
  }

  /** Views an existing log; its term length and page size are read from the metadata. */
  static wrap(buffer: SharedArrayBuffer | ArrayBuffer): LogBuffers {
    if (buffer.byteLength < LOG_META_DATA_LENGTH) {
      throw new SkeinError(ErrorCode.ARG_INVALID, `log buffer of ${buffer.byteLength} bytes is shorter than its ${LOG_META_DATA_LENGTH}-byte metadata`);
    }
    const metaBytes = new Uint8Array(buffer, buffer.byteLength - LOG_META_DATA_LENGTH, LOG_META_DATA_LENGTH);
    const termLength = readInt32LE(metaBytes, LOG_TERM_LENGTH_OFFSET);
    const pageSize = readInt32LE(metaBytes, LOG_PAGE_SIZE_OFFSET);
    checkTermLength(termLength);
    checkPageSize(pageSize);
    const expected = computeLogLength(termLength, pageSize);
    if (buffer.byteLength !== expected) {
      throw new SkeinError(
        ErrorCode.ARG_INVALID,
        `log buffer length ${buffer.byteLength} does not match termLength=${termLength} pageSize=${pageSize} (expected ${expected})`,
      );
    }
    return new LogBuffers(buffer, termLength);
  }

  get pageSize(): number {
    return this.metaData.pageSize;
  }

  get logLength(): number {
    return this.buffer.byteLength;
  }
}
