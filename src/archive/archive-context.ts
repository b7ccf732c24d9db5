/**
 * Configuration of an archive (ARCHIVE.md §1.1, §15): every option with its default (Aeron's),
 * range and `SKEIN_ARCHIVE_*` environment override, resolved and checked in one place.
 */
import { ErrorCode, SkeinError } from '../util/errors.js';
import { resolveOptionTable, type OptionSpec } from '../protocol/option-table.js';
import { ChannelUri } from '../protocol/channel-uri.js';

const MS = 1_000_000;
const S = 1_000_000_000;

/** Numeric and boolean options. Durations are nanoseconds, sizes bytes. */
export const ARCHIVE_OPTIONS = {
  controlStreamId: { kind: 'int', env: 'SKEIN_ARCHIVE_CONTROL_STREAM_ID', defaultValue: 10, min: -0x80000000, max: 0x7fffffff, doc: 'stream of control requests on the control channel' },
  localControlStreamId: { kind: 'int', env: 'SKEIN_ARCHIVE_LOCAL_CONTROL_STREAM_ID', defaultValue: 10, min: -0x80000000, max: 0x7fffffff, doc: 'stream of control requests on the local (IPC) control channel' },
  recordingEventsStreamId: { kind: 'int', env: 'SKEIN_ARCHIVE_RECORDING_EVENTS_STREAM_ID', defaultValue: 30, min: -0x80000000, max: 0x7fffffff, doc: 'stream of recording events' },
  recordingEventsEnabled: { kind: 'bool', env: 'SKEIN_ARCHIVE_RECORDING_EVENTS_ENABLED', defaultValue: false, doc: 'publish RecordingStarted/Progress/Stopped on the recording events channel' },
  controlChannelEnabled: { kind: 'bool', env: 'SKEIN_ARCHIVE_CONTROL_CHANNEL_ENABLED', defaultValue: true, doc: 'listen on the UDP control channel (the local IPC channel is always on)' },
  connectTimeoutNs: { kind: 'duration', env: 'SKEIN_ARCHIVE_CONNECT_TIMEOUT', defaultValue: 5 * S, min: 1 * MS, max: 3600 * S, doc: 'a control session that cannot connect, or cannot deliver any response (a ping included) for this long, ends; also how long a replay waits for its segment file and its subscriber, and how long a replay token lives' },
  sessionLivenessCheckIntervalNs: { kind: 'duration', env: 'SKEIN_ARCHIVE_SESSION_LIVENESS_CHECK_INTERVAL', defaultValue: 1 * S, min: 1 * MS, max: 3600 * S, doc: 'interval at which the archive pings each active control session' },
  replayLingerTimeoutNs: { kind: 'duration', env: 'SKEIN_ARCHIVE_REPLAY_LINGER_TIMEOUT', defaultValue: 5 * S, min: 0, max: 3600 * S, doc: 'linger of a finished replay publication' },
  maxConcurrentRecordings: { kind: 'int', env: 'SKEIN_ARCHIVE_MAX_CONCURRENT_RECORDINGS', defaultValue: 20, min: 1, max: 1_000_000, doc: 'recordings at a time; one more is refused with MAX_RECORDINGS' },
  maxConcurrentReplays: { kind: 'int', env: 'SKEIN_ARCHIVE_MAX_CONCURRENT_REPLAYS', defaultValue: 20, min: 1, max: 1_000_000, doc: 'replays at a time; one more is refused with MAX_REPLAYS' },
  segmentFileLength: { kind: 'size', env: 'SKEIN_ARCHIVE_SEGMENT_FILE_LENGTH', defaultValue: 128 * 1024 * 1024, min: 64 * 1024, max: 1 << 30, powerOfTwo: true, doc: 'length of segment files (at least the term length of the recording)' },
  fileIoMaxLength: { kind: 'size', env: 'SKEIN_ARCHIVE_FILE_IO_MAX_LENGTH', defaultValue: 1024 * 1024, min: 4096, max: 1 << 30, powerOfTwo: true, doc: 'most bytes one write of a recording or one read of a replay moves' },
  lowStorageSpaceThreshold: { kind: 'size', env: 'SKEIN_ARCHIVE_LOW_STORAGE_SPACE_THRESHOLD', defaultValue: 128 * 1024 * 1024, min: 0, max: 2 ** 50, doc: 'a recording is refused with STORAGE_SPACE when less than this is free in the archive directory' },
  fileSyncLevel: { kind: 'int', env: 'SKEIN_ARCHIVE_FILE_SYNC_LEVEL', defaultValue: 0, min: 0, max: 2, doc: 'segment files: 0 leaves writing to the OS, 1 pushes data to the device after every write, 2 data and metadata' },
  catalogFileSyncLevel: { kind: 'int', env: 'SKEIN_ARCHIVE_CATALOG_FILE_SYNC_LEVEL', defaultValue: 0, min: 0, max: 2, doc: 'the catalog: 0, 1 or 2 as fileSyncLevel, after every change' },
  messageTimeoutNs: { kind: 'duration', env: 'SKEIN_ARCHIVE_MESSAGE_TIMEOUT', defaultValue: 10 * S, min: 1 * MS, max: 3600 * S, doc: 'a replication waits at most this long for each step with the source archive (connect, each request, the replay image)' },
  archiveId: { kind: 'int', env: 'SKEIN_ARCHIVE_ID', defaultValue: -1, min: -(2 ** 53), max: 2 ** 53, doc: 'this archive\'s id (ArchiveIdRequest, rec-pos counter keys); -1 takes a fresh id from the driver' },
} as const satisfies Record<string, OptionSpec>;

export type ArchiveOptionName = keyof typeof ARCHIVE_OPTIONS;
type Numeric = { -readonly [K in ArchiveOptionName]?: (typeof ARCHIVE_OPTIONS)[K]['kind'] extends 'bool' ? boolean : number };

/** The archive's options: the table's, plus its directory and channels. */
export interface ArchiveOptions extends Numeric {
  /** Where the catalog and segment files live. @default `aeron-archive` under the working directory */
  dir?: string;
  /** UDP channel of control requests. @default `aeron:udp?endpoint=localhost:8010` */
  controlChannel?: string;
  /** IPC channel of local control requests. @default `aeron:ipc?term-length=64k` */
  localControlChannel?: string;
  /** Channel of recording events (when enabled). @default `aeron:udp?control-mode=dynamic|control=localhost:8030` */
  recordingEventsChannel?: string;
  /** Channel a replication's source replays to, when the request names none. @default `aeron:udp?endpoint=localhost:0` */
  replicationChannel?: string;
  /** Response channel of the client a replication connects to the source archive with (a request's srcResponseChannel wins). @default `aeron:udp?endpoint=localhost:0` */
  replicationResponseChannel?: string;
}

export type ArchiveSettings = { readonly [K in ArchiveOptionName]: (typeof ARCHIVE_OPTIONS)[K]['kind'] extends 'bool' ? boolean : number } & {
  readonly dir: string;
  readonly controlChannel: string;
  readonly localControlChannel: string;
  readonly recordingEventsChannel: string;
  readonly replicationChannel: string;
  readonly replicationResponseChannel: string;
};

export const ARCHIVE_DEFAULTS = {
  dir: 'aeron-archive',
  controlChannel: 'aeron:udp?endpoint=localhost:8010',
  localControlChannel: 'aeron:ipc?term-length=64k',
  recordingEventsChannel: 'aeron:udp?control-mode=dynamic|control=localhost:8030',
  replicationChannel: 'aeron:udp?endpoint=localhost:0',
  replicationResponseChannel: 'aeron:udp?endpoint=localhost:0',
} as const;

const CHANNEL_OPTIONS = ['controlChannel', 'localControlChannel', 'recordingEventsChannel', 'replicationChannel', 'replicationResponseChannel'] as const;

/** Resolves archive options (explicit, then `SKEIN_ARCHIVE_*`, then defaults); every problem in one ERR_SKEIN_CONFIG_INVALID. */
export function resolveArchiveSettings(options: ArchiveOptions = {}, env: Record<string, string | undefined> = {}): ArchiveSettings {
  const { dir, controlChannel, localControlChannel, recordingEventsChannel, replicationChannel, replicationResponseChannel, ...numeric } = options;
  const problems: string[] = [];
  const out = resolveOptionTable(ARCHIVE_OPTIONS, numeric as Record<string, unknown>, env, 'archive', problems);
  const strings: Record<string, string> = { dir: dir ?? env['SKEIN_ARCHIVE_DIR'] ?? ARCHIVE_DEFAULTS.dir };
  const given: Record<string, string | undefined> = { controlChannel, localControlChannel, recordingEventsChannel, replicationChannel, replicationResponseChannel };
  for (const name of CHANNEL_OPTIONS) {
    const value = given[name] ?? ARCHIVE_DEFAULTS[name];
    if (typeof value !== 'string') {
      problems.push(`option ${name}: expected a channel string, got ${typeof value}`);
      continue;
    }
    try {
      const uri = ChannelUri.parse(value);
      if (name === 'controlChannel' && uri.media !== 'udp') problems.push(`option ${name}: '${value}' must be an aeron:udp channel`);
      if (name === 'localControlChannel' && uri.media !== 'ipc') problems.push(`option ${name}: '${value}' must be an aeron:ipc channel`);
    } catch (error) {
      problems.push(`option ${name}: ${(error as Error).message}`);
    }
    strings[name] = value;
  }
  if (typeof strings.dir !== 'string' || strings.dir === '') problems.push(`option dir: expected a directory path, got '${String(strings.dir)}'`);
  if (problems.length > 0) throw new SkeinError(ErrorCode.CONFIG_INVALID, `invalid archive configuration: ${problems.join('; ')}`);
  return Object.freeze({ ...out, ...strings }) as ArchiveSettings;
}
