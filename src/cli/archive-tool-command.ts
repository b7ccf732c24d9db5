/**
 * `skein archive-tool <dir> <command>`: inspects an archive directory without a running archive,
 * in the manner of Aeron's ArchiveTool: describe the catalog, verify recordings against their
 * segment files, dump a recording's frames, count entries, mark entries valid or invalid, and
 * migrate (report the catalog's version against the current one).
 */
import type { Command } from 'commander';
import { Catalog, CATALOG_FILE_NAME, RecordingState, type RecordingDescriptor } from '../archive/catalog.js';
import { CATALOG_VERSION } from '../archive/catalog-layout.js';
import { recoverStopPosition, verifyRecording, type FrameProblem, type RecordingLayout } from '../archive/segment-scan.js';
import { RecordingReader } from '../archive/recording-reader.js';
import { nodeFiles } from '../env/files.js';
import { readMarkFile, readMarkFileErrors } from '../archive/archive-mark-file.js';
import { align } from '../util/bits.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import { integerOption } from './cli-options.js';
import { action, EXIT_FAILURE, EXIT_OK, exitProcess } from './cli-runtime.js';

interface ToolOptions {
  json?: boolean;
  limit?: number;
}

const STATES = ['INVALID', 'VALID', 'DELETED'] as const;

export function registerArchiveToolCommand(program: Command): Command {
  const tool = program
    .command('archive-tool')
    .summary('Describe, verify, dump and repair an archive directory (ArchiveTool)')
    .description(
      'Inspect an archive directory without a running archive. Commands: describe [recordingId], verify [recordingId], ' +
        'dump <recordingId>, count-entries, mark-valid <recordingId>, mark-invalid <recordingId>, migrate, errors. ' +
        'Exit 1 when verify finds a problem or a recording id is unknown.',
    );
  const sub = (name: string, summary: string): Command => tool.command(name).summary(summary).option('--json', 'print the result as JSON');
  sub('describe', 'Print the catalog header and each recording descriptor (or one)')
    .argument('<dir>', 'archive directory')
    .argument('[recordingId]', 'only this recording', integerOption(0, 2 ** 53))
    .action(action('archive-tool', (dir: string, recordingId: number | undefined, options: ToolOptions) => describe(dir, recordingId, options)));
  sub('verify', 'Check every frame of every recording (or one) against its segment files')
    .argument('<dir>', 'archive directory')
    .argument('[recordingId]', 'only this recording', integerOption(0, 2 ** 53))
    .action(action('archive-tool', (dir: string, recordingId: number | undefined, options: ToolOptions) => verify(dir, recordingId, options)));
  sub('dump', "Print a recording's frames: position, length, flags, type and the first payload bytes")
    .argument('<dir>', 'archive directory')
    .argument('<recordingId>', 'the recording', integerOption(0, 2 ** 53))
    .option('--limit <n>', 'at most this many frames', integerOption(1, 2 ** 31), 100)
    .action(action('archive-tool', (dir: string, recordingId: number, options: ToolOptions) => dump(dir, recordingId, options)));
  sub('count-entries', 'Print how many entries the catalog has, in each state')
    .argument('<dir>', 'archive directory')
    .action(action('archive-tool', (dir: string, options: ToolOptions) => countEntries(dir, options)));
  for (const [name, state] of [['mark-valid', RecordingState.VALID], ['mark-invalid', RecordingState.INVALID]] as const) {
    sub(name, `Mark a recording's catalog entry ${STATES[state]}`)
      .argument('<dir>', 'archive directory')
      .argument('<recordingId>', 'the recording', integerOption(0, 2 ** 53))
      .action(action('archive-tool', (dir: string, recordingId: number, options: ToolOptions) => mark(dir, recordingId, state, options)));
  }
  sub('errors', "Print the distinct errors in the archive's mark file (archive-mark.dat)")
    .argument('<dir>', 'archive directory')
    .action(action('archive-tool', (dir: string, options: ToolOptions) => errors(dir, options)));
  sub('migrate', "Bring the catalog to the current version (reports what it found)")
    .argument('<dir>', 'archive directory')
    .action(action('archive-tool', (dir: string, options: ToolOptions) => migrate(dir, options)));
  return tool;
}

function openCatalog(dir: string): Catalog {
  if (!nodeFiles.exists(`${dir}/${CATALOG_FILE_NAME}`)) {
    throw new SkeinError(ErrorCode.STORAGE_FAILED, `no archive in '${dir}': ${CATALOG_FILE_NAME} is missing`);
  }
  return Catalog.open({ files: nodeFiles, archiveDir: dir, syncLevel: 0 });
}

function layoutOf(d: RecordingDescriptor): RecordingLayout {
  return { recordingId: d.recordingId, startPosition: d.startPosition, initialTermId: d.initialTermId, termLength: d.termBufferLength, segmentLength: d.segmentFileLength, streamId: d.streamId, sessionId: d.sessionId };
}

function selected(catalog: Catalog, recordingId: number | undefined): RecordingDescriptor[] {
  if (recordingId !== undefined) {
    const d = catalog.descriptor(recordingId);
    if (d === null) throw new SkeinError(ErrorCode.ARG_INVALID, `recording ${recordingId} is not a valid recording of this catalog (state ${stateName(catalog.state(recordingId))})`);
    return [d];
  }
  const all: RecordingDescriptor[] = [];
  catalog.forEach(0, (d) => {
    all.push({ ...d });
  });
  return all;
}

function stateName(state: RecordingState | null): string {
  return state === null ? 'no entry' : STATES[state];
}

async function describe(dir: string, recordingId: number | undefined, options: ToolOptions): Promise<void> {
  const catalog = openCatalog(dir);
  try {
    const descriptors = selected(catalog, recordingId);
    const mark = readMarkFile(nodeFiles, dir);
    if (options.json === true) {
      exitProcess(EXIT_OK, `${JSON.stringify({ markFile: mark, version: '3.1.0', nextRecordingId: catalog.nextRecordingId, entries: catalog.entryCount, recordings: descriptors })}\n`);
      return;
    }
    const lines: string[] = [];
    if (mark === null) lines.push('MarkFile: none');
    else {
      const v = mark.version;
      lines.push(
        `MarkFile: version=${v >> 16}.${(v >> 8) & 0xff}.${v & 0xff} activityTimestamp=${mark.activityTimestamp} startTimestamp=${mark.startTimestamp} pid=${mark.pid} ` +
          `archiveId=${mark.archiveId} controlStreamId=${mark.controlStreamId} localControlStreamId=${mark.localControlStreamId} eventsStreamId=${mark.eventsStreamId} ` +
          `headerLength=${mark.headerLength} errorBufferLength=${mark.errorBufferLength} controlChannel=${mark.controlChannel} localControlChannel=${mark.localControlChannel} ` +
          `eventsChannel=${mark.eventsChannel}`,
      );
    }
    lines.push(`Catalog: version=3.1.0 length=32 nextRecordingId=${catalog.nextRecordingId} alignment=64 entries=${catalog.entryCount}`);
    for (const d of descriptors) {
      lines.push(
        `RecordingDescriptor: recordingId=${d.recordingId} controlSessionId=${d.controlSessionId} correlationId=${d.correlationId} startTimestamp=${d.startTimestamp} stopTimestamp=${d.stopTimestamp} ` +
          `startPosition=${d.startPosition} stopPosition=${d.stopPosition} initialTermId=${d.initialTermId} segmentFileLength=${d.segmentFileLength} termBufferLength=${d.termBufferLength} ` +
          `mtuLength=${d.mtuLength} sessionId=${d.sessionId} streamId=${d.streamId} strippedChannel=${d.strippedChannel} originalChannel=${d.originalChannel} sourceIdentity=${d.sourceIdentity}`,
      );
    }
    exitProcess(EXIT_OK, `${lines.join('\n')}\n`);
  } finally {
    catalog.close();
  }
}

async function errors(dir: string, options: ToolOptions): Promise<void> {
  const entries = readMarkFileErrors(nodeFiles, dir);
  if (options.json === true) {
    exitProcess(EXIT_OK, `${JSON.stringify({ errors: entries })}\n`);
    return;
  }
  const lines = entries.map(
    (e) => `${e.observationCount} observations from ${new Date(e.firstObservationMs).toISOString()} to ${new Date(e.lastObservationMs).toISOString()} for:\n ${e.text}`,
  );
  lines.push(`${entries.length} distinct errors observed.`);
  exitProcess(EXIT_OK, `${lines.join('\n')}\n`);
}

async function verify(dir: string, recordingId: number | undefined, options: ToolOptions): Promise<void> {
  const catalog = openCatalog(dir);
  const results: { recordingId: number; stopPosition: number; problems: FrameProblem[] }[] = [];
  try {
    for (const d of selected(catalog, recordingId)) {
      const layout = layoutOf(d);
      // An active (or interrupted) recording is checked up to what its files hold.
      const stop = d.stopPosition === -1 ? recoverStopPosition(nodeFiles, dir, layout) : d.stopPosition;
      results.push({ recordingId: d.recordingId, stopPosition: stop, problems: verifyRecording(nodeFiles, dir, layout, stop) });
    }
  } finally {
    catalog.close();
  }
  const bad = results.filter((r) => r.problems.length > 0);
  const code = bad.length === 0 ? EXIT_OK : EXIT_FAILURE;
  if (options.json === true) {
    exitProcess(code, `${JSON.stringify({ verified: bad.length === 0, recordings: results })}\n`);
    return;
  }
  const lines = results.map((r) =>
    r.problems.length === 0
      ? `recording ${r.recordingId}: OK up to ${r.stopPosition}`
      : [`recording ${r.recordingId}: ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}`, ...r.problems.map((p) => `  ${p.file} offset ${p.fileOffset} (position ${p.position}): ${p.reason}`)].join('\n'),
  );
  lines.push(bad.length === 0 ? `verified ${results.length} recordings` : `${bad.length} of ${results.length} recordings have problems`);
  exitProcess(code, `${lines.join('\n')}\n`);
}

async function dump(dir: string, recordingId: number, options: ToolOptions): Promise<void> {
  const catalog = openCatalog(dir);
  let d: RecordingDescriptor;
  try {
    d = selected(catalog, recordingId)[0]!;
  } finally {
    catalog.close();
  }
  const layout = layoutOf(d);
  const stop = d.stopPosition === -1 ? recoverStopPosition(nodeFiles, dir, layout) : d.stopPosition;
  const reader = new RecordingReader(nodeFiles, dir, layout, d.startPosition, Math.max(65536, d.mtuLength * 2));
  const limit = options.limit ?? 100;
  const frames: { position: number; length: number; type: string; flags: number; sessionId: number; streamId: number; termId: number; termOffset: number; payload: string }[] = [];
  try {
    while (reader.position < stop && frames.length < limit) {
      const length = reader.read(stop, d.sessionId, d.streamId);
      if (length === 0) break;
      const b = reader.buffer;
      const view = new DataView(b.buffer, b.byteOffset, length);
      let at = 0;
      let position = reader.position;
      while (at < length && frames.length < limit) {
        const frameLength = view.getInt32(at, true);
        const type = view.getUint16(at + 6, true);
        frames.push({
          position, length: frameLength, type: type === 0 ? 'PAD' : type === 1 ? 'DATA' : String(type), flags: b[at + 5]!,
          sessionId: view.getInt32(at + 12, true), streamId: view.getInt32(at + 16, true), termId: view.getInt32(at + 20, true), termOffset: view.getInt32(at + 8, true),
          payload: type === 1 ? Buffer.from(b.subarray(at + 32, at + Math.min(frameLength, 32 + 16))).toString('hex') : '',
        });
        const step = type === 0 ? reader.paddingLength : align(frameLength, 32);
        at += type === 0 ? length : step;
        position += step;
      }
      reader.consume();
    }
  } finally {
    reader.close();
  }
  if (options.json === true) {
    exitProcess(EXIT_OK, `${JSON.stringify({ recordingId, startPosition: d.startPosition, stopPosition: stop, frames })}\n`);
    return;
  }
  const lines = [`recording ${recordingId}: ${d.strippedChannel} stream ${d.streamId} session ${d.sessionId}, positions ${d.startPosition} to ${stop}`];
  for (const f of frames) {
    lines.push(`  ${f.position}: ${f.type} length=${f.length} flags=0x${f.flags.toString(16)} termId=${f.termId} termOffset=${f.termOffset}${f.payload === '' ? '' : ` payload=${f.payload}${f.length > 48 ? '…' : ''}`}`);
  }
  exitProcess(EXIT_OK, `${lines.join('\n')}\n`);
}

async function countEntries(dir: string, options: ToolOptions): Promise<void> {
  const catalog = openCatalog(dir);
  const counts = { INVALID: 0, VALID: 0, DELETED: 0 };
  try {
    for (let id = 0; id < catalog.entryCount; id++) counts[stateName(catalog.state(id)) as keyof typeof counts]++;
  } finally {
    catalog.close();
  }
  const total = counts.INVALID + counts.VALID + counts.DELETED;
  exitProcess(EXIT_OK, options.json === true ? `${JSON.stringify({ entries: total, ...counts })}\n` : `${total} entries: ${counts.VALID} valid, ${counts.INVALID} invalid, ${counts.DELETED} deleted\n`);
}

async function mark(dir: string, recordingId: number, state: RecordingState, options: ToolOptions): Promise<void> {
  const catalog = openCatalog(dir);
  try {
    const before = catalog.state(recordingId);
    if (before === null) throw new SkeinError(ErrorCode.ARG_INVALID, `recording ${recordingId} has no entry in this catalog (${catalog.entryCount} entries)`);
    catalog.changeState(recordingId, state);
    const result = { recordingId, before: stateName(before), after: STATES[state] };
    exitProcess(EXIT_OK, options.json === true ? `${JSON.stringify(result)}\n` : `recording ${recordingId}: ${result.before} -> ${result.after}\n`);
  } finally {
    catalog.close();
  }
}

async function migrate(dir: string, options: ToolOptions): Promise<void> {
  // Opening checks the version: a catalog of another major version is refused by name.
  const catalog = openCatalog(dir);
  catalog.close();
  const version = `${(CATALOG_VERSION >>> 16) & 0xff}.${(CATALOG_VERSION >>> 8) & 0xff}.${CATALOG_VERSION & 0xff}`;
  exitProcess(EXIT_OK, options.json === true ? `${JSON.stringify({ migrated: false, version })}\n` : `catalog is at the current version ${version}: nothing to migrate\n`);
}
