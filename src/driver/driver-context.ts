/**
 * Configuration of a media driver: every option with its default, unit, range and `SKEIN_*`
 * environment override in one table, resolved once (explicit option, then environment, then
 * default), validated with every problem reported in one error, and frozen.
 */
import { SkeinError, ErrorCode } from '../util/errors.js';
import { isPowerOfTwo } from '../util/bits.js';
import { parseDurationNs, parseSize } from '../protocol/channel-uri.js';

type Kind = 'duration' | 'size' | 'int' | 'bool';

interface OptionSpec {
  readonly kind: Kind;
  readonly env: string;
  readonly defaultValue: number | boolean;
  readonly min?: number;
  readonly max?: number;
  readonly powerOfTwo?: boolean;
  readonly multipleOf?: number;
  readonly doc: string;
}

const MS = 1_000_000;
const S = 1_000_000_000;

/** Every driver option. Durations are nanoseconds, sizes bytes. */
export const DRIVER_OPTIONS = {
  termBufferLength: { kind: 'size', env: 'SKEIN_TERM_BUFFER_LENGTH', defaultValue: 16 * 1024 * 1024, min: 65536, max: 1 << 30, powerOfTwo: true, doc: 'term length of UDP publications' },
  ipcTermBufferLength: { kind: 'size', env: 'SKEIN_IPC_TERM_BUFFER_LENGTH', defaultValue: 64 * 1024 * 1024, min: 65536, max: 1 << 30, powerOfTwo: true, doc: 'term length of IPC publications' },
  mtuLength: { kind: 'size', env: 'SKEIN_MTU_LENGTH', defaultValue: 1408, min: 64, max: 65504, multipleOf: 32, doc: 'MTU of UDP publications, including the 32-byte DATA header' },
  ipcMtuLength: { kind: 'size', env: 'SKEIN_IPC_MTU_LENGTH', defaultValue: 1408, min: 64, max: 65504, multipleOf: 32, doc: 'MTU (fragment size) of IPC publications' },
  filePageSize: { kind: 'size', env: 'SKEIN_FILE_PAGE_SIZE', defaultValue: 4096, min: 4096, max: 1 << 30, powerOfTwo: true, doc: 'page size the log length is aligned to' },
  initialWindowLength: { kind: 'size', env: 'SKEIN_RCV_INITIAL_WINDOW_LENGTH', defaultValue: 128 * 1024, min: 64, max: 1 << 30, doc: 'receiver window (capped at termLength/2)' },
  publicationTermWindowLength: { kind: 'size', env: 'SKEIN_PUBLICATION_TERM_WINDOW_LENGTH', defaultValue: 0, min: 0, max: 1 << 30, doc: 'how far a publisher may run ahead of its sender; 0 = termLength/2' },
  socketRcvbufLength: { kind: 'size', env: 'SKEIN_SOCKET_SO_RCVBUF', defaultValue: 2 * 1024 * 1024, min: 0, max: 1 << 30, doc: 'SO_RCVBUF of receive sockets (the OS may cap it at net.core.rmem_max); 0 = OS default. Larger than Aeron\'s 128 KiB so a full receiver window of datagrams fits' },
  socketSndbufLength: { kind: 'size', env: 'SKEIN_SOCKET_SO_SNDBUF', defaultValue: 0, min: 0, max: 1 << 30, doc: 'SO_SNDBUF of send sockets; 0 = OS default' },
  statusMessageTimeoutNs: { kind: 'duration', env: 'SKEIN_RCV_STATUS_MESSAGE_TIMEOUT', defaultValue: 200 * MS, min: 1000, max: 60 * S, doc: 'interval at which a receiver repeats its status message' },
  imageLivenessTimeoutNs: { kind: 'duration', env: 'SKEIN_IMAGE_LIVENESS_TIMEOUT', defaultValue: 10 * S, min: 1 * MS, max: 3600 * S, doc: 'an image with no DATA or heartbeat for this long becomes unavailable' },
  publicationConnectionTimeoutNs: { kind: 'duration', env: 'SKEIN_PUBLICATION_CONNECTION_TIMEOUT', defaultValue: 5 * S, min: 1 * MS, max: 3600 * S, doc: 'a receiver silent for this long no longer counts as connected' },
  publicationLingerTimeoutNs: { kind: 'duration', env: 'SKEIN_PUBLICATION_LINGER_TIMEOUT', defaultValue: 5 * S, min: 0, max: 3600 * S, doc: 'a closed publication lingers this long to serve retransmits' },
  publicationUnblockTimeoutNs: { kind: 'duration', env: 'SKEIN_PUBLICATION_UNBLOCK_TIMEOUT', defaultValue: 15 * S, min: 1 * MS, max: 3600 * S, doc: 'a claim left uncommitted for this long is padded over' },
  publicationSetupTimeoutNs: { kind: 'duration', env: 'SKEIN_PUBLICATION_SETUP_TIMEOUT', defaultValue: 100 * MS, min: 1000, max: 60 * S, doc: 'SETUP resend interval until the first status message' },
  publicationHeartbeatTimeoutNs: { kind: 'duration', env: 'SKEIN_PUBLICATION_HEARTBEAT_TIMEOUT', defaultValue: 100 * MS, min: 1000, max: 60 * S, doc: 'heartbeat after this much sender idleness' },
  pendingSetupTimeoutNs: { kind: 'duration', env: 'SKEIN_RECEIVER_PENDING_SETUP_TIMEOUT', defaultValue: 1 * S, min: 1 * MS, max: 60 * S, doc: 'interval between SETUP elicitations for one unknown session' },
  imageCoolDownNs: { kind: 'duration', env: 'SKEIN_IMAGE_COOL_DOWN_TIMEOUT', defaultValue: 2 * S, min: 0, max: 3600 * S, doc: 'a removed session is ignored this long before it can join again' },
  timerIntervalNs: { kind: 'duration', env: 'SKEIN_TIMER_INTERVAL', defaultValue: 1 * S, min: 1 * MS, max: 60 * S, doc: 'interval of the conductor checks (liveness, linger, connection)' },
  nakUnicastDelayNs: { kind: 'duration', env: 'SKEIN_NAK_UNICAST_DELAY', defaultValue: 1000, min: 0, max: 60 * S, doc: 'delay before the first NAK of a gap' },
  nakUnicastRetryDelayRatio: { kind: 'int', env: 'SKEIN_NAK_UNICAST_RETRY_DELAY_RATIO', defaultValue: 100, min: 1, max: 1_000_000, doc: 'NAK retry delay as a multiple of the NAK delay' },
  retransmitUnicastDelayNs: { kind: 'duration', env: 'SKEIN_RETRANSMIT_UNICAST_DELAY', defaultValue: 0, min: 0, max: 60 * S, doc: 'delay before a retransmission' },
  retransmitUnicastLingerNs: { kind: 'duration', env: 'SKEIN_RETRANSMIT_UNICAST_LINGER', defaultValue: 10 * MS, min: 0, max: 60 * S, doc: 'after a retransmission, NAKs for the same range are ignored this long' },
  clientLivenessTimeoutNs: { kind: 'duration', env: 'SKEIN_CLIENT_LIVENESS_TIMEOUT', defaultValue: 10 * S, min: 1 * MS, max: 3600 * S, doc: 'a client silent for this long is closed by the driver' },
  reservedSessionIdLow: { kind: 'int', env: 'SKEIN_PUBLICATION_RESERVED_SESSION_ID_LOW', defaultValue: -1, min: -0x80000000, max: 0x7fffffff, doc: 'low end of the session ids never allocated' },
  reservedSessionIdHigh: { kind: 'int', env: 'SKEIN_PUBLICATION_RESERVED_SESSION_ID_HIGH', defaultValue: 1000, min: -0x80000000, max: 0x7fffffff, doc: 'high end of the session ids never allocated' },
  maxImagesPerEndpoint: { kind: 'int', env: 'SKEIN_MAX_IMAGES_PER_ENDPOINT', defaultValue: 1024, min: 1, max: 1_000_000, doc: 'bound on images one receive endpoint creates' },
  sendBatchDatagramsMax: { kind: 'int', env: 'SKEIN_SEND_BATCH_DATAGRAMS_MAX', defaultValue: 64, min: 1, max: 4096, doc: 'datagrams one publication sends per duty cycle' },
  snapshotIntervalNs: { kind: 'duration', env: 'SKEIN_SNAPSHOT_INTERVAL', defaultValue: 1 * S, min: 10 * MS, max: 3600 * S, doc: 'interval at which counters and errors are published for `skein stat`' },
  publishSnapshots: { kind: 'bool', env: 'SKEIN_PUBLISH_SNAPSHOTS', defaultValue: true, doc: 'publish counters and errors to the skein directory' },
} as const satisfies Record<string, OptionSpec>;

export type DriverOptionName = keyof typeof DRIVER_OPTIONS;
export type DriverOptions = { -readonly [K in DriverOptionName]?: (typeof DRIVER_OPTIONS)[K]['kind'] extends 'bool' ? boolean : number };
export type DriverSettings = { readonly [K in DriverOptionName]: (typeof DRIVER_OPTIONS)[K]['kind'] extends 'bool' ? boolean : number };

/** Small buffers and short timeouts so tests reach edges quickly. */
export const TEST_PROFILE: DriverOptions = {
  termBufferLength: 65536,
  ipcTermBufferLength: 65536,
  imageLivenessTimeoutNs: 2 * S,
  publicationConnectionTimeoutNs: 1 * S,
  publicationLingerTimeoutNs: 200 * MS,
  timerIntervalNs: 50 * MS,
  imageCoolDownNs: 200 * MS,
  publishSnapshots: false,
};

/**
 * Resolves settings: explicit options first, then `SKEIN_*` variables from `env`, then defaults.
 * Unknown option names and bad values are all reported in one error.
 */
export function resolveDriverSettings(options: DriverOptions = {}, env: Record<string, string | undefined> = {}): DriverSettings {
  const problems: string[] = [];
  const known = Object.keys(DRIVER_OPTIONS);
  for (const key of Object.keys(options)) {
    if (!(key in DRIVER_OPTIONS)) {
      const hint = closest(key, known);
      problems.push(`unknown option '${key}'${hint === undefined ? '' : ` (did you mean '${hint}'?)`}`);
    }
  }
  const out: Record<string, number | boolean> = {};
  for (const [name, spec] of Object.entries(DRIVER_OPTIONS) as [DriverOptionName, OptionSpec][]) {
    const explicit = (options as Record<string, unknown>)[name];
    let value: unknown = explicit;
    let source = `option ${name}`;
    if (value === undefined && env[spec.env] !== undefined) {
      source = `${spec.env}=${env[spec.env]}`;
      try {
        value = parseEnv(spec, env[spec.env]!);
      } catch (error) {
        problems.push(`${source}: ${(error as Error).message}`);
        continue;
      }
    }
    if (value === undefined) value = spec.defaultValue;
    const problem = check(spec, value);
    if (problem !== null) problems.push(`${source}: ${problem} (got ${String(value)})`);
    else out[name] = value as number | boolean;
  }
  if (problems.length > 0) {
    throw new SkeinError(ErrorCode.CONFIG_INVALID, `invalid driver configuration: ${problems.join('; ')}`);
  }
  if ((out.reservedSessionIdLow as number) > (out.reservedSessionIdHigh as number)) {
    throw new SkeinError(ErrorCode.CONFIG_INVALID, 'reservedSessionIdLow must not exceed reservedSessionIdHigh');
  }
  return Object.freeze(out) as DriverSettings;
}

function parseEnv(spec: OptionSpec, text: string): number | boolean {
  switch (spec.kind) {
    case 'duration':
      return parseDurationNs(text, spec.env, 'environment');
    case 'size':
      return parseSize(text, spec.env, 'environment');
    case 'int': {
      const n = Number(text);
      if (!Number.isInteger(n)) throw new Error(`not an integer`);
      return n;
    }
    case 'bool':
      if (text === 'true' || text === '1') return true;
      if (text === 'false' || text === '0') return false;
      throw new Error('expected true or false');
  }
}

function check(spec: OptionSpec, value: unknown): string | null {
  if (spec.kind === 'bool') return typeof value === 'boolean' ? null : 'expected a boolean';
  if (typeof value !== 'number' || !Number.isInteger(value)) return 'expected an integer';
  if (spec.min !== undefined && value < spec.min) return `must be >= ${spec.min}`;
  if (spec.max !== undefined && value > spec.max) return `must be <= ${spec.max}`;
  if (spec.powerOfTwo === true && !isPowerOfTwo(value)) return 'must be a power of two';
  if (spec.multipleOf !== undefined && value % spec.multipleOf !== 0) return `must be a multiple of ${spec.multipleOf}`;
  return null;
}

function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 4;
  for (const candidate of candidates) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}
