/**
 * Fills a gap of an image's term with a PAD frame, for streams that do not recover losses
 * (`reliable=false`, PROTOCOL.md §9): readers then skip the missing bytes.
 */
import { FRAME_ALIGNMENT, frameLengthVolatile, writePaddingFrame } from './frame-descriptor.js';
import { LogMetaData } from './log-meta-data.js';

/**
 * Writes a PAD frame over `[gapOffset, gapOffset + gapLength)` of term `termId`, using the log's
 * default header (or the given 32-byte template) for flags, session and stream. Returns false and
 * writes nothing if any 32-byte slot of the range already holds data (it arrived meanwhile).
 */
export function fillGap(
  metaDataOrHeaderTemplate: LogMetaData | Uint8Array,
  termBuffer: Uint8Array,
  termId: number,
  gapOffset: number,
  gapLength: number,
): boolean {
  for (let offset = gapOffset + gapLength - FRAME_ALIGNMENT; offset >= gapOffset; offset -= FRAME_ALIGNMENT) {
    if (frameLengthVolatile(termBuffer, offset) !== 0) {
      return false;
    }
  }
  const template = metaDataOrHeaderTemplate instanceof LogMetaData ? metaDataOrHeaderTemplate.defaultFrameHeader : metaDataOrHeaderTemplate;
  writePaddingFrame(termBuffer, gapOffset, gapLength, template, termId);
  return true;
}
