/**
 * Configuration of a media driver: every option with its default, unit, range and `SKEIN_*`
 * environment override in one table, resolved once (explicit option, then environment, then
 * default), validated with every problem reported in one error, and frozen.
 */
import { SkeinError, ErrorCode } from '../util/errors.js';
import { resolveOptionTable, type OptionSpec } from '../protocol/option-table.js';

export { allowedRange, type OptionKind, type OptionSpec } from '../protocol/option-table.js';

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
  statusMessageMaxIntervalNs: { kind: 'duration', env: 'SKEIN_RCV_STATUS_MESSAGE_MAX_INTERVAL', defaultValue: 1 * S, min: 1000, max: 60 * S, doc: 'interval at which an image with nothing new to say (no DATA since its last status message, nobody read, no gap open, no response session to announce) repeats its status message, never beyond an eighth of publicationConnectionTimeout or flowControlReceiverTimeout (625 ms by default); with news, statusMessageTimeout applies. At or below statusMessageTimeout the interval is fixed, as in Aeron\'s receivers' },
  imageReplaceSilenceNs: { kind: 'duration', env: 'SKEIN_IMAGE_REPLACE_SILENCE', defaultValue: 300 * MS, min: 0, max: 3600 * S, doc: 'a SETUP from another instance of a live session (another initial term id or term length: the publisher restarted) replaces the image only once the image has received nothing for this long, so a spoofed SETUP cannot tear down a stream that is still flowing' },
  rttMeasurementIntervalNs: { kind: 'duration', env: 'SKEIN_RTT_MEASUREMENT_INTERVAL', defaultValue: 1 * S, min: 0, max: 3600 * S, doc: 'interval at which an image measures the round trip to its sender with RTTM frames (the rcv-rtt counter); 0 turns measurement off' },
  imageLivenessTimeoutNs: { kind: 'duration', env: 'SKEIN_IMAGE_LIVENESS_TIMEOUT', defaultValue: 10 * S, min: 1 * MS, max: 3600 * S, doc: 'an image with no DATA or heartbeat for this long becomes unavailable' },
  publicationConnectionTimeoutNs: { kind: 'duration', env: 'SKEIN_PUBLICATION_CONNECTION_TIMEOUT', defaultValue: 5 * S, min: 1 * MS, max: 3600 * S, doc: 'a receiver silent for this long no longer counts as connected' },
  publicationLingerTimeoutNs: { kind: 'duration', env: 'SKEIN_PUBLICATION_LINGER_TIMEOUT', defaultValue: 5 * S, min: 0, max: 3600 * S, doc: 'a closed publication lingers this long to serve retransmits' },
  publicationUnblockTimeoutNs: { kind: 'duration', env: 'SKEIN_PUBLICATION_UNBLOCK_TIMEOUT', defaultValue: 15 * S, min: 1 * MS, max: 3600 * S, doc: 'a claim left uncommitted for this long is padded over' },
  publicationSetupTimeoutNs: { kind: 'duration', env: 'SKEIN_PUBLICATION_SETUP_TIMEOUT', defaultValue: 100 * MS, min: 1000, max: 60 * S, doc: 'SETUP resend interval until the first status message' },
  publicationHeartbeatTimeoutNs: { kind: 'duration', env: 'SKEIN_PUBLICATION_HEARTBEAT_TIMEOUT', defaultValue: 100 * MS, min: 1000, max: 60 * S, doc: 'heartbeat after this much sender idleness' },
  publicationHeartbeatMaxIntervalNs: { kind: 'duration', env: 'SKEIN_PUBLICATION_HEARTBEAT_MAX_INTERVAL', defaultValue: 100 * MS, min: 1000, max: 60 * S, doc: 'heartbeat interval of a publication whose one receiver acknowledged everything it sent (until then, while closing, and with several receivers, publicationHeartbeatTimeout applies), never beyond an eighth of imageLivenessTimeout or half of imageReplaceSilenceNs (a receiver takes a longer silence for a restarted sender); the default, equal to publicationHeartbeatTimeout, keeps Aeron\'s fixed interval. Raise it with imageReplaceSilenceNs to send fewer heartbeats on many idle streams' },
  pendingSetupTimeoutNs: { kind: 'duration', env: 'SKEIN_RECEIVER_PENDING_SETUP_TIMEOUT', defaultValue: 1 * S, min: 1 * MS, max: 60 * S, doc: 'interval between SETUP elicitations for one unknown session' },
  imageCoolDownNs: { kind: 'duration', env: 'SKEIN_IMAGE_COOL_DOWN_TIMEOUT', defaultValue: 2 * S, min: 0, max: 3600 * S, doc: 'a removed session is ignored this long before it can join again' },
  timerIntervalNs: { kind: 'duration', env: 'SKEIN_TIMER_INTERVAL', defaultValue: 1 * S, min: 1 * MS, max: 60 * S, doc: 'interval of the conductor checks (liveness, linger, connection)' },
  nakUnicastDelayNs: { kind: 'duration', env: 'SKEIN_NAK_UNICAST_DELAY', defaultValue: 1000, min: 0, max: 60 * S, doc: 'delay before the first NAK of a gap' },
  naksWithoutPacketMax: { kind: 'int', env: 'SKEIN_NAKS_WITHOUT_PACKET_MAX', defaultValue: 16, min: 1, max: 1_000_000, doc: 'NAKs an image sends before it hears from its sender again (data, heartbeat or retransmission); further NAKs wait, so a forged SETUP and one DATA frame cannot turn the receiver into a NAK reflector' },
  nakUnicastRetryDelayRatio: { kind: 'int', env: 'SKEIN_NAK_UNICAST_RETRY_DELAY_RATIO', defaultValue: 100, min: 1, max: 1_000_000, doc: 'NAK retry delay as a multiple of the NAK delay' },
  retransmitUnicastDelayNs: { kind: 'duration', env: 'SKEIN_RETRANSMIT_UNICAST_DELAY', defaultValue: 0, min: 0, max: 60 * S, doc: 'delay before a retransmission' },
  retransmitUnicastLingerNs: { kind: 'duration', env: 'SKEIN_RETRANSMIT_UNICAST_LINGER', defaultValue: 10 * MS, min: 0, max: 60 * S, doc: 'after a retransmission, NAKs for the same range are ignored this long' },
  clientLivenessTimeoutNs: { kind: 'duration', env: 'SKEIN_CLIENT_LIVENESS_TIMEOUT', defaultValue: 10 * S, min: 1 * MS, max: 3600 * S, doc: 'a client that keeps alive (a worker-thread client sends a keepalive every 500 ms or more often) and is silent for this long is closed by the driver and counted (Client liveness timeouts); the embedded client, which shares the driver\'s thread, is not held to it' },
  reservedSessionIdLow: { kind: 'int', env: 'SKEIN_PUBLICATION_RESERVED_SESSION_ID_LOW', defaultValue: -1, min: -0x80000000, max: 0x7fffffff, doc: 'low end of the session ids never allocated' },
  reservedSessionIdHigh: { kind: 'int', env: 'SKEIN_PUBLICATION_RESERVED_SESSION_ID_HIGH', defaultValue: 1000, min: -0x80000000, max: 0x7fffffff, doc: 'high end of the session ids never allocated' },
  maxImagesPerEndpoint: { kind: 'int', env: 'SKEIN_MAX_IMAGES_PER_ENDPOINT', defaultValue: 1024, min: 1, max: 1_000_000, doc: 'bound on images one receive endpoint holds; further SETUPs are ignored and counted (Images refused at the per-endpoint limit)' },
  imageLogsLengthMax: { kind: 'size', env: 'SKEIN_IMAGE_LOGS_LENGTH_MAX', defaultValue: 4 * 1024 * 1024 * 1024, min: 3 * 65536, max: 2 ** 44, doc: 'sum of the log lengths (3 × the term length a SETUP asks for) of the images one receive endpoint holds; a SETUP that would pass it is ignored and counted (Images refused at the per-endpoint limit)' },
  pendingSetupsMax: { kind: 'int', env: 'SKEIN_RECEIVER_PENDING_SETUPS_MAX', defaultValue: 1024, min: 1, max: 1_000_000, doc: 'unknown sessions (asked for a SETUP, or cooling down) one receive endpoint tracks per stream; expired ones are swept when full, then data of further unknown sessions is ignored and counted' },
  pendingImagesMax: { kind: 'int', env: 'SKEIN_RECEIVER_PENDING_IMAGES_MAX', defaultValue: 4096, min: 1, max: 1_000_000, doc: 'unestablished images (sessions whose SETUP was answered with a zero-window status message and whose sender has not yet sent DATA or a heartbeat from the SETUP\'s address and port; no log is allocated for them) one receive endpoint holds; when full, a new one evicts the oldest entry of the source holding the most (by address, then port) and is counted (Unestablished images evicted at the pending-image limit), so one source cannot take every place' },
  pendingImageTimeoutNs: { kind: 'duration', env: 'SKEIN_RECEIVER_PENDING_IMAGE_TIMEOUT', defaultValue: 500 * MS, min: 1 * MS, max: 60 * S, doc: 'an unestablished image whose sender sends no DATA or heartbeat from the SETUP\'s source within this long after its latest SETUP is dropped and counted (Unestablished images expired without DATA or heartbeat); a sender heartbeats at most 100 ms after its last SETUP and resends SETUP every 100 ms while unanswered' },
  receiversPerPublicationMax: { kind: 'int', env: 'SKEIN_PUBLICATION_RECEIVERS_MAX', defaultValue: 256, min: 1, max: 65536, doc: 'receivers (by receiver id) one network publication tracks for connection state; status messages of further receivers still move flow control but are not tracked, and are counted' },
  retransmitSlotsMax: { kind: 'int', env: 'SKEIN_MAX_RESEND', defaultValue: 16, min: 1, max: 256, doc: 'retransmissions one network publication has in flight (delayed or lingering); NAKs beyond them are dropped and counted (Retransmit pool overflows)' },
  nakGapsMax: { kind: 'int', env: 'SKEIN_NAK_GAPS_MAX', defaultValue: 64, min: 16, max: 65536, doc: 'gaps one image keeps NAK timers for; beyond it the timers of gaps not seen in the latest scan are dropped and counted' },
  clientsMax: { kind: 'int', env: 'SKEIN_CLIENTS_MAX', defaultValue: 64, min: 1, max: 65536, doc: 'clients connected to one driver at a time; a further connect fails with ERR_SKEIN_LIMIT_REACHED' },
  countersCapacity: { kind: 'int', env: 'SKEIN_COUNTERS_CAPACITY', defaultValue: 4096, min: 256, max: 1 << 20, doc: 'counters of one driver (system counters plus 2–4 per publication, 2 per image, 1 per subscriber); allocation beyond fails with ERR_SKEIN_COUNTERS_FULL' },
  errorLogCapacity: { kind: 'int', env: 'SKEIN_ERROR_LOG_CAPACITY', defaultValue: 1000, min: 1, max: 100_000, doc: 'distinct errors the driver keeps for `skein errors`; further new ones are only counted' },
  untetheredWindowLimitTimeoutNs: { kind: 'duration', env: 'SKEIN_UNTETHERED_WINDOW_LIMIT_TIMEOUT', defaultValue: 5 * S, min: 1 * MS, max: 3600 * S, doc: 'an untethered spy (tether=false) a whole window behind the sender for this long is left behind: its image goes (untethered-window-limit-timeout on the channel overrides it)' },
  untetheredRestingTimeoutNs: { kind: 'duration', env: 'SKEIN_UNTETHERED_RESTING_TIMEOUT', defaultValue: 10 * S, min: 0, max: 3600 * S, doc: 'an untethered spy left behind rejoins at the sender\'s position after this long (untethered-resting-timeout on the channel overrides it)' },
  multicastTtl: { kind: 'int', env: 'SKEIN_SOCKET_MULTICAST_TTL', defaultValue: 0, min: 0, max: 255, doc: 'TTL of multicast datagrams when the channel has no ttl=; 0 keeps them on this host, raise it to cross routers' },
  flowControlReceiverTimeoutNs: { kind: 'duration', env: 'SKEIN_MIN_MULTICAST_FLOW_CONTROL_RECEIVER_TIMEOUT', defaultValue: 5 * S, min: 1 * MS, max: 3600 * S, doc: 'under fc=min and fc=tagged, a receiver silent this long no longer holds the publication back (t: in fc= overrides it)' },
  flowControlGroupMinSize: { kind: 'int', env: 'SKEIN_FLOW_CONTROL_GROUP_MIN_SIZE', defaultValue: 0, min: 0, max: 65536, doc: 'under fc=min and fc=tagged, receivers required before the publication moves and counts as connected (g:/<n> in fc= overrides it)' },
  nakMulticastMaxBackoffNs: { kind: 'duration', env: 'SKEIN_NAK_MULTICAST_MAX_BACKOFF', defaultValue: 10 * MS, min: 0, max: 60 * S, doc: 'a multicast image waits a random time up to this before it NAKs a gap, so the receivers of a group do not all NAK the same loss at once' },
  sendBatchDatagramsMax: { kind: 'int', env: 'SKEIN_SEND_BATCH_DATAGRAMS_MAX', defaultValue: 64, min: 1, max: 4096, doc: 'datagrams one publication sends per duty cycle' },
  cycleTimeThresholdNs: { kind: 'duration', env: 'SKEIN_CYCLE_TIME_THRESHOLD', defaultValue: 100 * MS, min: 1000, max: 60 * S, doc: 'a duty cycle of the conductor, sender or receiver that holds the event loop longer than this is counted in its cycle-time-threshold counter (docs/counters.md)' },
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
  const out = resolveOptionTable(DRIVER_OPTIONS, options as Record<string, unknown>, env, 'driver');
  if ((out.reservedSessionIdLow as number) > (out.reservedSessionIdHigh as number)) {
    throw new SkeinError(
      ErrorCode.CONFIG_INVALID,
      `invalid driver configuration: reservedSessionIdLow (${String(out.reservedSessionIdLow)}) must not exceed reservedSessionIdHigh (${String(out.reservedSessionIdHigh)})`,
    );
  }
  return Object.freeze(out) as DriverSettings;
}
