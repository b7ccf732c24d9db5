/**
 * Walks the frames a recording's segment files hold: to find where an interrupted recording
 * really stopped (the archive was killed while recording, so the catalog has no stop position),
 * and to verify a recording (every frame where it should be, of the stream it belongs to).
 */
import type { FileHandle, Files } from '../env/files.js';
import { align } from '../util/bits.js';
import {
  DATA_FRAME_TYPE,
  DATA_HEADER_LENGTH,
  FRAME_ALIGNMENT,
  PAD_FRAME_TYPE,
  SESSION_ID_FIELD_OFFSET,
  STREAM_ID_FIELD_OFFSET,
  TERM_ID_FIELD_OFFSET,
  TERM_OFFSET_FIELD_OFFSET,
  TYPE_FIELD_OFFSET,
  VERSION_FIELD_OFFSET,
  readInt32LE,
} from '../logbuffer/frame-descriptor.js';
import { segmentBasePosition, segmentBasesOf, segmentFileName } from './segment-files.js';

/** What a scan needs to know of a recording (from its catalog entry). */
export interface RecordingLayout {
  readonly recordingId: number;
  readonly startPosition: number;
  readonly initialTermId: number;
  readonly termLength: number;
  readonly segmentLength: number;
  readonly streamId: number;
  /** The stream's session id; frames of any session pass when omitted. */
  readonly sessionId?: number;
}

/** Why a frame walk stopped before the end it was given. */
export interface FrameProblem {
  readonly file: string;
  readonly fileOffset: number;
  readonly position: number;
  readonly reason: string;
}

const SCAN_BUFFER_LENGTH = 64 * 1024;

/**
 * Frames read from one segment file through a buffer: {@link next} checks the frame at a
 * position and returns its aligned length, 0 at the end of what was written, or -1 for a frame
 * that is not what the recording holds there (the reason is in {@link problem}).
 */
class SegmentFrames {
  problem = '';
  private readonly buffer = new Uint8Array(SCAN_BUFFER_LENGTH);
  private bufferFileOffset = -1;
  private bufferLength = 0;

  constructor(
    private readonly file: FileHandle,
    private readonly fileLength: number,
    private readonly base: number,
    private readonly layout: RecordingLayout,
  ) {}

  next(position: number, strict: boolean): number {
    const fileOffset = position - this.base;
    if (fileOffset + DATA_HEADER_LENGTH > this.fileLength) return 0;
    const at = this.header(fileOffset);
    const b = this.buffer;
    const frameLength = readInt32LE(b, at);
    if (frameLength <= 0) {
      if (frameLength < 0) this.problem = `negative frame length ${frameLength}`;
      return frameLength === 0 ? 0 : -1;
    }
    const layout = this.layout;
    const termOffset = position % layout.termLength;
    const termId = (layout.initialTermId + Math.floor(position / layout.termLength)) | 0;
    const type = b[at + TYPE_FIELD_OFFSET]! | (b[at + TYPE_FIELD_OFFSET + 1]! << 8);
    const aligned = align(frameLength, FRAME_ALIGNMENT);
    if (readInt32LE(b, at + TERM_OFFSET_FIELD_OFFSET) !== termOffset) this.problem = `term offset ${readInt32LE(b, at + TERM_OFFSET_FIELD_OFFSET)} where ${termOffset} belongs`;
    else if (readInt32LE(b, at + TERM_ID_FIELD_OFFSET) !== termId) this.problem = `term id ${readInt32LE(b, at + TERM_ID_FIELD_OFFSET)} where ${termId} belongs`;
    else if (type !== DATA_FRAME_TYPE && type !== PAD_FRAME_TYPE) this.problem = `frame type ${type} is neither DATA nor PAD`;
    else if (termOffset + aligned > layout.termLength) this.problem = `frame length ${frameLength} runs past the end of the term`;
    else if (strict && b[at + VERSION_FIELD_OFFSET] !== 0) this.problem = `frame version ${b[at + VERSION_FIELD_OFFSET]!}`;
    else if (strict && type === DATA_FRAME_TYPE && readInt32LE(b, at + STREAM_ID_FIELD_OFFSET) !== layout.streamId) this.problem = `stream id ${readInt32LE(b, at + STREAM_ID_FIELD_OFFSET)} where ${layout.streamId} belongs`;
    else if (strict && type === DATA_FRAME_TYPE && layout.sessionId !== undefined && readInt32LE(b, at + SESSION_ID_FIELD_OFFSET) !== layout.sessionId) this.problem = `session id ${readInt32LE(b, at + SESSION_ID_FIELD_OFFSET)} where ${layout.sessionId} belongs`;
    else if (strict && type === DATA_FRAME_TYPE && fileOffset + aligned > this.fileLength) this.problem = `frame length ${frameLength} runs past the end of the file`;
    else return aligned;
    return -1;
  }

  /** Makes the 32-byte header at `fileOffset` readable in the buffer; returns its index there. */
  private header(fileOffset: number): number {
    if (this.bufferFileOffset < 0 || fileOffset < this.bufferFileOffset || fileOffset + DATA_HEADER_LENGTH > this.bufferFileOffset + this.bufferLength) {
      this.bufferLength = this.file.read(this.buffer, 0, Math.min(SCAN_BUFFER_LENGTH, this.fileLength - fileOffset), fileOffset);
      this.bufferFileOffset = fileOffset;
      if (this.bufferLength < DATA_HEADER_LENGTH) this.buffer.fill(0, this.bufferLength, DATA_HEADER_LENGTH);
    }
    return fileOffset - this.bufferFileOffset;
  }
}

function segmentPath(archiveDir: string, recordingId: number, base: number): string {
  return `${archiveDir}/${segmentFileName(recordingId, base)}`;
}

/**
 * The position after the last whole frame the recording's files hold, following frames from the
 * start of its last segment file (or from `startPosition` when that is in the last segment); the
 * start position when there is no segment file. Used when the catalog has no stop position.
 */
export function recoverStopPosition(files: Files, archiveDir: string, layout: RecordingLayout): number {
  const bases = segmentBasesOf(files.list(archiveDir), layout.recordingId);
  const firstBase = segmentBasePosition(layout.startPosition, layout.startPosition, layout.termLength, layout.segmentLength);
  const usable = bases.filter((b) => b >= firstBase);
  if (usable.length === 0) return layout.startPosition;
  const base = usable[usable.length - 1]!;
  const file = files.open(segmentPath(archiveDir, layout.recordingId, base), 'read');
  try {
    const fileLength = Math.min(file.size(), layout.segmentLength);
    const frames = new SegmentFrames(file, fileLength, base, layout);
    let position = Math.max(base, layout.startPosition);
    for (;;) {
      const length = frames.next(position, false);
      if (length <= 0) break;
      position += length;
      if (position - base >= fileLength) break;
    }
    return position;
  } finally {
    file.close();
  }
}

/**
 * Checks every frame of a recording from its start to `stopPosition`: the segment files are
 * there, each frame sits at its position with the term offset and term id of that position, is
 * DATA or PAD, version 0, of the recording's stream (and session, when given), and whole. Returns
 * the problems found; a walk stops at a file's first problem.
 */
export function verifyRecording(files: Files, archiveDir: string, layout: RecordingLayout, stopPosition: number): FrameProblem[] {
  const problems: FrameProblem[] = [];
  let position = layout.startPosition;
  while (position < stopPosition) {
    const base = segmentBasePosition(layout.startPosition, position, layout.termLength, layout.segmentLength);
    const name = segmentFileName(layout.recordingId, base);
    const path = `${archiveDir}/${name}`;
    if (!files.exists(path)) {
      problems.push({ file: name, fileOffset: position - base, position, reason: 'segment file is missing' });
      position = base + layout.segmentLength;
      continue;
    }
    const file = files.open(path, 'read');
    try {
      const fileLength = file.size();
      if (fileLength < Math.min(layout.segmentLength, stopPosition - base)) {
        problems.push({ file: name, fileOffset: fileLength, position: base + fileLength, reason: `segment file is ${fileLength} bytes, shorter than the recording needs` });
      }
      const frames = new SegmentFrames(file, fileLength, base, layout);
      const end = Math.min(stopPosition, base + layout.segmentLength);
      while (position < end) {
        const length = frames.next(position, true);
        if (length === 0) {
          problems.push({ file: name, fileOffset: position - base, position, reason: `no frame where the recording goes on to ${stopPosition}` });
          break;
        }
        if (length < 0) {
          problems.push({ file: name, fileOffset: position - base, position, reason: frames.problem });
          break;
        }
        position += length;
      }
      if (position > end && end === stopPosition) {
        problems.push({ file: name, fileOffset: stopPosition - base, position: stopPosition, reason: `the last frame runs past the stop position ${stopPosition}` });
      }
      position = base + layout.segmentLength;
    } finally {
      file.close();
    }
  }
  return problems;
}
