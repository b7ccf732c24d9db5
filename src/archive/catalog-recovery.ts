/**
 * What the archive does with its catalog at start-up: every VALID recording without a stop
 * position was being recorded when the archive stopped (it was killed, or the machine went
 * down); its stop position is found from its segment files and written to the catalog.
 */
import type { Files } from '../env/files.js';
import type { Catalog } from './catalog.js';
import { recoverStopPosition } from './segment-scan.js';

export interface RecoveredRecording {
  readonly recordingId: number;
  readonly stopPosition: number;
}

export function recoverInterruptedRecordings(catalog: Catalog, files: Files, archiveDir: string, nowMs: number): RecoveredRecording[] {
  const interrupted: number[] = [];
  catalog.forEach(0, (d) => {
    if (d.stopPosition === -1) interrupted.push(d.recordingId);
  });
  const recovered: RecoveredRecording[] = [];
  for (const recordingId of interrupted) {
    const d = catalog.descriptor(recordingId)!;
    const stopPosition = recoverStopPosition(files, archiveDir, {
      recordingId, startPosition: d.startPosition, initialTermId: d.initialTermId, termLength: d.termBufferLength,
      segmentLength: d.segmentFileLength, streamId: d.streamId,
    });
    catalog.recordingStopped(recordingId, stopPosition, nowMs);
    recovered.push({ recordingId, stopPosition });
  }
  return recovered;
}
