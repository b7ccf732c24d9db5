import type { InvalidFrameReasonCode } from '../protocol/frame-validator.js';
import { AtomicCounter, type CountersManager } from './counters.js';

/**
 * Counter type ids. Where Aeron defines a type, Skein uses the same number so tools that know
 * Aeron's ids read Skein's counters the same way. Ranges: 0–99 driver and client, 100–199
 * archive, 200–299 cluster (as in Aeron); 900–999 Skein-only types; applications use 1000 and up.
 */
export const CounterTypeId = {
  SYSTEM: 0,
  PUBLISHER_LIMIT: 1,
  SENDER_POSITION: 2,
  RECEIVER_HWM: 3,
  SUBSCRIBER_POSITION: 4,
  RECEIVER_POSITION: 5,
  SEND_CHANNEL_STATUS: 6,
  RECEIVE_CHANNEL_STATUS: 7,
  SENDER_LIMIT: 9,
  PER_IMAGE: 10,
  CLIENT_HEARTBEAT_TIMESTAMP: 11,
  PUBLISHER_POSITION: 12,
  SENDER_BPE: 13,
  LOCAL_SOCKADDR: 14,
  FLOW_CONTROL_RECEIVERS: 17,
  MDC_DESTINATIONS: 18,
  SENDER_NAKS_RECEIVED: 19,
  RECEIVER_NAKS_SENT: 20,

  ARCHIVE_RECORDING_POSITION: 100,
  ARCHIVE_ERROR_COUNT: 101,
  ARCHIVE_CONTROL_SESSIONS: 102,
  ARCHIVE_MAX_CYCLE_TIME: 103,
  ARCHIVE_CYCLE_TIME_THRESHOLD_EXCEEDED: 104,
  ARCHIVE_RECORDER_MAX_WRITE_TIME: 105,
  ARCHIVE_RECORDER_TOTAL_WRITE_BYTES: 106,
  ARCHIVE_RECORDER_TOTAL_WRITE_TIME: 107,
  ARCHIVE_REPLAYER_MAX_READ_TIME: 108,
  ARCHIVE_REPLAYER_TOTAL_READ_BYTES: 109,
  ARCHIVE_REPLAYER_TOTAL_READ_TIME: 110,
  ARCHIVE_RECORDING_SESSION_COUNT: 111,
  ARCHIVE_REPLAY_SESSION_COUNT: 112,

  CLUSTER_CONSENSUS_MODULE_STATE: 200,
  CLUSTER_NODE_ROLE: 201,
  CLUSTER_CONTROL_TOGGLE: 202,
  CLUSTER_COMMIT_POSITION: 203,
  CLUSTER_RECOVERY_STATE: 204,
  CLUSTER_SNAPSHOT_COUNT: 205,
  CLUSTER_ELECTION_STATE: 207,
  CLUSTER_CONSENSUS_MODULE_ERROR_COUNT: 212,
  CLUSTER_CLIENT_TIMEOUT_COUNT: 213,
  CLUSTER_INVALID_REQUEST_COUNT: 214,
  CLUSTER_CLUSTERED_SERVICE_ERROR_COUNT: 215,
  CLUSTER_MAX_CYCLE_TIME: 216,
  CLUSTER_CYCLE_TIME_THRESHOLD_EXCEEDED: 217,

  /** Duty cycles run by an agent (Skein-only). */
  AGENT_DUTY_CYCLES: 900,
  /** Per-runtime counters of an RPC server or consumer (Skein-only). */
  RPC: 901,
  /** Round-trip time in ns from an image to its sender, measured with RTTM frames (Skein-only). */
  RECEIVER_RTT: 902,
  /** A cluster member's own counts (Skein-only): messages not taken, stream gaps, resends absorbed, sessions closed for an egress backlog. */
  CLUSTER_MEMBER_COUNTS: 903,
} as const;

export type CounterTypeId = (typeof CounterTypeId)[keyof typeof CounterTypeId];

/**
 * Per-driver system counters. Ids 0–41 are Aeron's system counter ids for the same meaning;
 * ids from 100 are Skein's own. Every id here is moved by the driver (docs/counters.md says what
 * moves each, and test/support/counter-coverage.ts names the test that shows it). Aeron ids whose
 * meaning has no counterpart in Skein are left out: 2–4 (proxy offer failures: the driver's agents
 * call each other directly, with no queue between them), 20 (unblocked commands: commands are
 * whole objects in a queue, never half written), 39 (error frames sent: Skein's receivers never
 * send ERR).
 */
export const SystemCounterId = {
  BYTES_SENT: 0,
  BYTES_RECEIVED: 1,
  NAK_MESSAGES_SENT: 5,
  NAK_MESSAGES_RECEIVED: 6,
  STATUS_MESSAGES_SENT: 7,
  STATUS_MESSAGES_RECEIVED: 8,
  HEARTBEATS_SENT: 9,
  HEARTBEATS_RECEIVED: 10,
  RETRANSMITS_SENT: 11,
  FLOW_CONTROL_UNDER_RUNS: 12,
  FLOW_CONTROL_OVER_RUNS: 13,
  INVALID_PACKETS: 14,
  ERRORS: 15,
  SHORT_SENDS: 16,
  SENDER_FLOW_CONTROL_LIMITS: 18,
  UNBLOCKED_PUBLICATIONS: 19,
  LOSS_GAP_FILLS: 23,
  CLIENT_TIMEOUTS: 24,
  CONDUCTOR_MAX_CYCLE_TIME: 26,
  CONDUCTOR_CYCLE_TIME_THRESHOLD_EXCEEDED: 27,
  SENDER_MAX_CYCLE_TIME: 28,
  SENDER_CYCLE_TIME_THRESHOLD_EXCEEDED: 29,
  RECEIVER_MAX_CYCLE_TIME: 30,
  RECEIVER_CYCLE_TIME_THRESHOLD_EXCEEDED: 31,
  RETRANSMITTED_BYTES: 36,
  RETRANSMIT_OVERFLOW: 37,
  ERROR_FRAMES_RECEIVED: 38,

  FRAMES_SENT: 100,
  FRAMES_RECEIVED: 101,
  IMAGE_LIVENESS_TIMEOUTS: 102,
  PUBLICATION_CONNECTION_TIMEOUTS: 103,
  SETUP_MESSAGES_SENT: 104,
  SETUP_MESSAGES_RECEIVED: 105,
  RTTM_SENT: 106,
  RTTM_RECEIVED: 107,
  RESPONSE_SETUPS_SENT: 108,
  RESPONSE_SETUPS_RECEIVED: 109,
  CONDUCTOR_DUTY_CYCLES: 110,
  SENDER_DUTY_CYCLES: 111,
  RECEIVER_DUTY_CYCLES: 112,
  SEND_ERRORS: 113,
  HANDLER_ERRORS: 114,

  /** Resource limits (docs/robustness.md): what was refused or evicted at each bound. */
  IMAGES_REJECTED: 140,
  PENDING_SETUPS_REJECTED: 141,
  RECEIVERS_REJECTED: 142,
  NAK_GAPS_EVICTED: 143,
  NAKS_HELD_BACK: 144,
  PENDING_IMAGES_EVICTED: 145,
  PENDING_IMAGES_EXPIRED: 146,

  /** Invalid frames by reason (id 149 - InvalidFrameReason code, see {@link invalidFrameCounterId}). */
  INVALID_FRAMES_TOO_SHORT: 150,
  INVALID_FRAMES_BAD_VERSION: 151,
  INVALID_FRAMES_NEGATIVE_FRAME_LENGTH: 152,
  INVALID_FRAMES_DATA_LENGTH_NOT_ALIGNED: 153,
  INVALID_FRAMES_DATA_TOO_SHORT: 154,
  INVALID_FRAMES_CONTROL_TOO_SHORT: 155,
  INVALID_FRAMES_FRAME_LENGTH_EXCEEDS_DATAGRAM: 156,
  INVALID_FRAMES_UNKNOWN_TYPE: 157,
  INVALID_FRAMES_SETUP_INVALID: 158,
  INVALID_FRAMES_TERM_OFFSET_INVALID: 159,
  INVALID_FRAMES_TERM_ID_INVALID: 160,
  INVALID_FRAMES_FRAMES_INVALID: 161,
  INVALID_FRAMES_OUTSIDE_WINDOW: 162,
  INVALID_FRAMES_SM_INVALID: 163,
  INVALID_FRAMES_NAK_INVALID: 164,
} as const;

export type SystemCounterId = (typeof SystemCounterId)[keyof typeof SystemCounterId];

/** Human-readable labels of the system counters, by id. */
export const SYSTEM_COUNTER_LABELS: Readonly<Record<SystemCounterId, string>> = Object.freeze({
  [SystemCounterId.BYTES_SENT]: 'Bytes sent',
  [SystemCounterId.BYTES_RECEIVED]: 'Bytes received',
  [SystemCounterId.NAK_MESSAGES_SENT]: 'NAKs sent',
  [SystemCounterId.NAK_MESSAGES_RECEIVED]: 'NAKs received',
  [SystemCounterId.STATUS_MESSAGES_SENT]: 'Status messages sent',
  [SystemCounterId.STATUS_MESSAGES_RECEIVED]: 'Status messages received',
  [SystemCounterId.HEARTBEATS_SENT]: 'Heartbeats sent',
  [SystemCounterId.HEARTBEATS_RECEIVED]: 'Heartbeats received',
  [SystemCounterId.RETRANSMITS_SENT]: 'Retransmits sent',
  [SystemCounterId.FLOW_CONTROL_UNDER_RUNS]: 'Flow control under runs',
  [SystemCounterId.FLOW_CONTROL_OVER_RUNS]: 'Flow control over runs',
  [SystemCounterId.INVALID_PACKETS]: 'Invalid packets',
  [SystemCounterId.ERRORS]: 'Errors',
  [SystemCounterId.SHORT_SENDS]: 'Short sends',
  [SystemCounterId.SENDER_FLOW_CONTROL_LIMITS]: 'Sender flow control limits (back-pressure events)',
  [SystemCounterId.UNBLOCKED_PUBLICATIONS]: 'Unblocked publications',
  [SystemCounterId.LOSS_GAP_FILLS]: 'Loss gap fills',
  [SystemCounterId.CLIENT_TIMEOUTS]: 'Client liveness timeouts',
  [SystemCounterId.CONDUCTOR_MAX_CYCLE_TIME]: 'Conductor max cycle time in ns',
  [SystemCounterId.CONDUCTOR_CYCLE_TIME_THRESHOLD_EXCEEDED]: 'Conductor cycle time threshold exceeded',
  [SystemCounterId.SENDER_MAX_CYCLE_TIME]: 'Sender max cycle time in ns',
  [SystemCounterId.SENDER_CYCLE_TIME_THRESHOLD_EXCEEDED]: 'Sender cycle time threshold exceeded',
  [SystemCounterId.RECEIVER_MAX_CYCLE_TIME]: 'Receiver max cycle time in ns',
  [SystemCounterId.RECEIVER_CYCLE_TIME_THRESHOLD_EXCEEDED]: 'Receiver cycle time threshold exceeded',
  [SystemCounterId.RETRANSMITTED_BYTES]: 'Retransmitted bytes',
  [SystemCounterId.RETRANSMIT_OVERFLOW]: 'Retransmit pool overflows',
  [SystemCounterId.ERROR_FRAMES_RECEIVED]: 'Error frames received',
  [SystemCounterId.FRAMES_SENT]: 'Frames sent',
  [SystemCounterId.FRAMES_RECEIVED]: 'Frames received',
  [SystemCounterId.IMAGE_LIVENESS_TIMEOUTS]: 'Images unavailable after liveness timeout',
  [SystemCounterId.PUBLICATION_CONNECTION_TIMEOUTS]: 'Publication connection timeouts',
  [SystemCounterId.SETUP_MESSAGES_SENT]: 'Setup messages sent',
  [SystemCounterId.SETUP_MESSAGES_RECEIVED]: 'Setup messages received',
  [SystemCounterId.RTTM_SENT]: 'RTT measurements sent',
  [SystemCounterId.RTTM_RECEIVED]: 'RTT measurements received',
  [SystemCounterId.RESPONSE_SETUPS_SENT]: 'Response setups sent',
  [SystemCounterId.RESPONSE_SETUPS_RECEIVED]: 'Response setups received',
  [SystemCounterId.CONDUCTOR_DUTY_CYCLES]: 'Conductor duty cycles',
  [SystemCounterId.SENDER_DUTY_CYCLES]: 'Sender duty cycles',
  [SystemCounterId.RECEIVER_DUTY_CYCLES]: 'Receiver duty cycles',
  [SystemCounterId.SEND_ERRORS]: 'Socket send errors',
  [SystemCounterId.HANDLER_ERRORS]: 'Errors thrown by application handlers (fragment consumed, stream continues)',
  [SystemCounterId.IMAGES_REJECTED]: 'Images refused at the per-endpoint limit',
  [SystemCounterId.PENDING_SETUPS_REJECTED]: 'Unknown sessions ignored at the pending-setup limit',
  [SystemCounterId.RECEIVERS_REJECTED]: 'Receivers not tracked at the per-publication limit',
  [SystemCounterId.NAK_GAPS_EVICTED]: 'NAK gap timers evicted at the per-image limit',
  [SystemCounterId.NAKS_HELD_BACK]: 'NAKs held back until the sender is heard from again',
  [SystemCounterId.PENDING_IMAGES_EVICTED]: 'Unestablished images evicted at the pending-image limit',
  [SystemCounterId.PENDING_IMAGES_EXPIRED]: 'Unestablished images expired without DATA or heartbeat',
  [SystemCounterId.INVALID_FRAMES_TOO_SHORT]: 'Invalid frames: TOO_SHORT',
  [SystemCounterId.INVALID_FRAMES_BAD_VERSION]: 'Invalid frames: BAD_VERSION',
  [SystemCounterId.INVALID_FRAMES_NEGATIVE_FRAME_LENGTH]: 'Invalid frames: NEGATIVE_FRAME_LENGTH',
  [SystemCounterId.INVALID_FRAMES_DATA_LENGTH_NOT_ALIGNED]: 'Invalid frames: DATA_LENGTH_NOT_ALIGNED',
  [SystemCounterId.INVALID_FRAMES_DATA_TOO_SHORT]: 'Invalid frames: DATA_TOO_SHORT',
  [SystemCounterId.INVALID_FRAMES_CONTROL_TOO_SHORT]: 'Invalid frames: CONTROL_TOO_SHORT',
  [SystemCounterId.INVALID_FRAMES_FRAME_LENGTH_EXCEEDS_DATAGRAM]: 'Invalid frames: FRAME_LENGTH_EXCEEDS_DATAGRAM',
  [SystemCounterId.INVALID_FRAMES_UNKNOWN_TYPE]: 'Invalid frames: UNKNOWN_TYPE',
  [SystemCounterId.INVALID_FRAMES_SETUP_INVALID]: 'Invalid frames: SETUP_INVALID',
  [SystemCounterId.INVALID_FRAMES_TERM_OFFSET_INVALID]: 'Invalid frames: TERM_OFFSET_INVALID',
  [SystemCounterId.INVALID_FRAMES_TERM_ID_INVALID]: 'Invalid frames: TERM_ID_INVALID',
  [SystemCounterId.INVALID_FRAMES_FRAMES_INVALID]: 'Invalid frames: FRAMES_INVALID',
  [SystemCounterId.INVALID_FRAMES_OUTSIDE_WINDOW]: 'Invalid frames: OUTSIDE_WINDOW',
  [SystemCounterId.INVALID_FRAMES_SM_INVALID]: 'Invalid frames: SM_INVALID',
  [SystemCounterId.INVALID_FRAMES_NAK_INVALID]: 'Invalid frames: NAK_INVALID',
});

/**
 * System counter id of an invalid-frame reason (an InvalidFrameReason code, -1 and below):
 * {@link INVALID_FRAMES_COUNTER_ID_BASE} - reason, so reason -1 is counter 150.
 */
export const INVALID_FRAMES_COUNTER_ID_BASE = 149;

export function invalidFrameCounterId(reason: InvalidFrameReasonCode): SystemCounterId {
  return (INVALID_FRAMES_COUNTER_ID_BASE - reason) as SystemCounterId;
}

/** Every system counter id, ascending. */
export const SYSTEM_COUNTER_IDS: ReadonlyArray<SystemCounterId> = Object.freeze(
  (Object.values(SystemCounterId) as SystemCounterId[]).slice().sort((a, b) => a - b),
);

/**
 * Allocates one counter per {@link SystemCounterId} (type {@link CounterTypeId.SYSTEM}, the system
 * counter id as the key's registrationId) and hands them out by id.
 */
export class SystemCounters {
  private readonly counters: AtomicCounter[] = [];

  constructor(readonly manager: CountersManager) {
    for (const id of SYSTEM_COUNTER_IDS) {
      const counterId = manager.allocate(CounterTypeId.SYSTEM, SYSTEM_COUNTER_LABELS[id], { registrationId: id });
      this.counters[id] = new AtomicCounter(manager, counterId);
    }
  }

  get(id: SystemCounterId): AtomicCounter {
    return this.counters[id] as AtomicCounter;
  }

  /** Frees every system counter; idempotent. */
  close(): void {
    for (const id of SYSTEM_COUNTER_IDS) {
      this.counters[id]?.close();
    }
  }
}
