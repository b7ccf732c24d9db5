/**
 * Which test shows that each system counter moves. Every id `skein stat` shows must be in exactly
 * one of the two lists (test/unit/driver/counter-coverage.test.ts checks it):
 *
 * - {@link WORKLOAD_COUNTERS}: moved by the ordinary workload of
 *   test/system/counters/counters-workload.test.ts, which asserts each of them moved;
 * - {@link FOCUSED_COUNTERS}: moved only by faults or rare conditions the workload does not
 *   create, each shown by the focused test named with it (which must mention the counter).
 */
import { SystemCounterId } from '../../src/agent/counter-types.js';

const C = SystemCounterId;

/** Counters the workload test drives on the observed driver, and asserts moved. */
export const WORKLOAD_COUNTERS: readonly SystemCounterId[] = [
  C.BYTES_SENT,
  C.BYTES_RECEIVED,
  C.FRAMES_SENT,
  C.FRAMES_RECEIVED,
  C.NAK_MESSAGES_SENT,
  C.NAK_MESSAGES_RECEIVED,
  C.STATUS_MESSAGES_SENT,
  C.STATUS_MESSAGES_RECEIVED,
  C.HEARTBEATS_SENT,
  C.HEARTBEATS_RECEIVED,
  C.RETRANSMITS_SENT,
  C.RETRANSMITTED_BYTES,
  C.SETUP_MESSAGES_SENT,
  C.SETUP_MESSAGES_RECEIVED,
  C.RTTM_SENT,
  C.RTTM_RECEIVED,
  C.RESPONSE_SETUPS_SENT,
  C.RESPONSE_SETUPS_RECEIVED,
  C.SENDER_FLOW_CONTROL_LIMITS,
  C.UNBLOCKED_PUBLICATIONS,
  C.IMAGE_LIVENESS_TIMEOUTS,
  C.PUBLICATION_CONNECTION_TIMEOUTS,
  C.CONDUCTOR_DUTY_CYCLES,
  C.SENDER_DUTY_CYCLES,
  C.RECEIVER_DUTY_CYCLES,
  C.CONDUCTOR_MAX_CYCLE_TIME,
  C.SENDER_MAX_CYCLE_TIME,
  C.RECEIVER_MAX_CYCLE_TIME,
];

export interface FocusedCoverage {
  readonly ids: readonly SystemCounterId[];
  /** Why the workload does not move them. */
  readonly why: string;
  /** Path of the test that does, from the repository root. */
  readonly test: string;
  /**
   * Text the test must contain for each id, besides `SystemCounterId.<NAME>` or the quoted
   * label, which are always accepted (for counters the test reaches by computed id).
   */
  readonly mentions?: string;
}

/** Counters only faults or rare conditions move, each with the focused test that moves it. */
export const FOCUSED_COUNTERS: readonly FocusedCoverage[] = [
  {
    ids: [C.ERRORS, C.SHORT_SENDS, C.SEND_ERRORS],
    why: 'on loopback no send fails and nothing goes wrong; an injected transport refuses and fails sends',
    test: 'test/unit/driver/system-counters.test.ts',
  },
  {
    ids: [C.LOSS_GAP_FILLS],
    why: 'only a reliable=false subscription fills gaps; the workload subscribes reliably',
    test: 'test/sim/unreliable-sim.test.ts',
  },
  {
    ids: [C.HANDLER_ERRORS],
    why: "the workload's handlers do not throw; handlers that throw on purpose do",
    test: 'test/unit/client/throwing-handlers.test.ts',
    mentions: 'handlerErrorCount',
  },
  {
    ids: [C.CLIENT_TIMEOUTS],
    why: "the workload's clients close or never keep alive; a timeout needs a client whose thread stops",
    test: 'test/unit/driver/system-counters.test.ts',
  },
  {
    ids: [C.CONDUCTOR_CYCLE_TIME_THRESHOLD_EXCEEDED, C.SENDER_CYCLE_TIME_THRESHOLD_EXCEEDED, C.RECEIVER_CYCLE_TIME_THRESHOLD_EXCEEDED],
    why: 'a healthy driver keeps its cycles under the 100 ms default; a clock that ticks inside each cycle passes a lowered threshold',
    test: 'test/unit/driver/system-counters.test.ts',
  },
  {
    ids: [C.ERROR_FRAMES_RECEIVED],
    why: "Skein's receivers never send ERR frames; an Aeron receiver that rejects an image does (a crafted frame here)",
    test: 'test/unit/driver/system-counters.test.ts',
  },
  {
    ids: [C.FLOW_CONTROL_UNDER_RUNS],
    why: 'needs DATA arriving below a position already acknowledged (a late duplicate), which loopback timing does not produce reliably',
    test: 'test/unit/driver/system-counters.test.ts',
  },
  {
    ids: [C.FLOW_CONTROL_OVER_RUNS, C.INVALID_PACKETS],
    why: 'a well-behaved sender never sends beyond the window nor malformed datagrams; crafted datagrams do',
    test: 'test/unit/driver/invalid-frame-counters.test.ts',
  },
  {
    ids: [
      C.INVALID_FRAMES_TOO_SHORT,
      C.INVALID_FRAMES_BAD_VERSION,
      C.INVALID_FRAMES_NEGATIVE_FRAME_LENGTH,
      C.INVALID_FRAMES_DATA_LENGTH_NOT_ALIGNED,
      C.INVALID_FRAMES_DATA_TOO_SHORT,
      C.INVALID_FRAMES_CONTROL_TOO_SHORT,
      C.INVALID_FRAMES_FRAME_LENGTH_EXCEEDS_DATAGRAM,
      C.INVALID_FRAMES_UNKNOWN_TYPE,
      C.INVALID_FRAMES_SETUP_INVALID,
      C.INVALID_FRAMES_TERM_OFFSET_INVALID,
      C.INVALID_FRAMES_TERM_ID_INVALID,
      C.INVALID_FRAMES_FRAMES_INVALID,
      C.INVALID_FRAMES_OUTSIDE_WINDOW,
      C.INVALID_FRAMES_SM_INVALID,
      C.INVALID_FRAMES_NAK_INVALID,
    ],
    why: 'one crafted datagram per reason; the test fails when a reason has none',
    test: 'test/unit/driver/invalid-frame-counters.test.ts',
    mentions: 'invalidFrameCounterId(',
  },
  {
    ids: [
      C.RETRANSMIT_OVERFLOW,
      C.IMAGES_REJECTED,
      C.PENDING_SETUPS_REJECTED,
      C.RECEIVERS_REJECTED,
      C.NAK_GAPS_EVICTED,
      C.PENDING_IMAGES_EVICTED,
      C.PENDING_IMAGES_EXPIRED,
    ],
    why: 'resource limits: a flood from a hostile peer reaches them for certain (ordinary loss may overflow the retransmit pool, or lose the answer to a SETUP until its entry expires, not reliably)',
    test: 'test/unit/robustness/limits.test.ts',
  },
  {
    ids: [C.NAKS_HELD_BACK],
    why: 'a live sender answers NAKs (under loss not always in time, not reliably); a forged stream that never does makes the receiver hold NAKs back',
    test: 'test/unit/driver/nak-reflection.test.ts',
  },
];
