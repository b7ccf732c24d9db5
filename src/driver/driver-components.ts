import type { NanoClock, EpochClock } from '../env/clock.js';
import type { Prng } from '../env/prng.js';
import type { DatagramTransport } from '../env/datagram.js';
import type { CountersManager, AtomicCounter } from '../agent/counters.js';
import { SystemCounters, SystemCounterId, invalidFrameCounterId } from '../agent/counter-types.js';
import type { DutyCycleCounters } from '../agent/duty-cycle-tracker.js';
import { INVALID_FRAME_REASON_COUNT, type InvalidFrameReasonCode } from '../protocol/frame-validator.js';
import type { DistinctErrorLog } from '../agent/distinct-error-log.js';
import type { DriverSettings } from './driver-context.js';

/** The driver's per-process counters, resolved once so hot paths touch fields, not lookups. */
export class DriverCounters {
  readonly bytesSent: AtomicCounter;
  readonly bytesReceived: AtomicCounter;
  readonly framesSent: AtomicCounter;
  readonly framesReceived: AtomicCounter;
  readonly naksSent: AtomicCounter;
  readonly naksReceived: AtomicCounter;
  readonly statusMessagesSent: AtomicCounter;
  readonly statusMessagesReceived: AtomicCounter;
  readonly heartbeatsSent: AtomicCounter;
  readonly heartbeatsReceived: AtomicCounter;
  readonly retransmitsSent: AtomicCounter;
  readonly retransmittedBytes: AtomicCounter;
  readonly invalidPackets: AtomicCounter;
  readonly shortSends: AtomicCounter;
  readonly errors: AtomicCounter;
  readonly imageLivenessTimeouts: AtomicCounter;
  readonly publicationConnectionTimeouts: AtomicCounter;
  readonly setupsSent: AtomicCounter;
  readonly setupsReceived: AtomicCounter;
  readonly rttmSent: AtomicCounter;
  readonly rttmReceived: AtomicCounter;
  readonly errorFramesReceived: AtomicCounter;
  readonly flowControlOverRuns: AtomicCounter;
  readonly flowControlUnderRuns: AtomicCounter;
  readonly responseSetupsSent: AtomicCounter;
  readonly responseSetupsReceived: AtomicCounter;
  /** One counter per InvalidFrameReason, at index -1 - reason. */
  readonly invalidFramesByReason: readonly AtomicCounter[];
  readonly retransmitOverflows: AtomicCounter;
  readonly imagesRejected: AtomicCounter;
  readonly pendingSetupsRejected: AtomicCounter;
  readonly receiversRejected: AtomicCounter;
  readonly nakGapsEvicted: AtomicCounter;
  readonly naksHeldBack: AtomicCounter;
  /** Gaps an unreliable image (reliable=false) filled with padding instead of NAKing them. */
  readonly lossGapFills: AtomicCounter;
  readonly pendingImagesEvicted: AtomicCounter;
  readonly pendingImagesExpired: AtomicCounter;
  /** Incremented by clients (any thread) when an application handler throws. */
  readonly handlerErrors: AtomicCounter;
  /** Sends the socket reported failed, synchronously or later (see DatagramSocketOptions.onSendError). */
  readonly sendErrors: AtomicCounter;
  readonly senderFlowControlLimits: AtomicCounter;
  readonly unblockedPublications: AtomicCounter;
  readonly clientTimeouts: AtomicCounter;
  readonly conductorDutyCycles: DutyCycleCounters;
  readonly senderDutyCycles: DutyCycleCounters;
  readonly receiverDutyCycles: DutyCycleCounters;
  private readonly system: SystemCounters;

  constructor(counters: CountersManager) {
    const s = (this.system = new SystemCounters(counters));
    this.bytesSent = s.get(SystemCounterId.BYTES_SENT);
    this.handlerErrors = s.get(SystemCounterId.HANDLER_ERRORS);
    this.bytesReceived = s.get(SystemCounterId.BYTES_RECEIVED);
    this.framesSent = s.get(SystemCounterId.FRAMES_SENT);
    this.framesReceived = s.get(SystemCounterId.FRAMES_RECEIVED);
    this.naksSent = s.get(SystemCounterId.NAK_MESSAGES_SENT);
    this.naksReceived = s.get(SystemCounterId.NAK_MESSAGES_RECEIVED);
    this.statusMessagesSent = s.get(SystemCounterId.STATUS_MESSAGES_SENT);
    this.statusMessagesReceived = s.get(SystemCounterId.STATUS_MESSAGES_RECEIVED);
    this.heartbeatsSent = s.get(SystemCounterId.HEARTBEATS_SENT);
    this.heartbeatsReceived = s.get(SystemCounterId.HEARTBEATS_RECEIVED);
    this.retransmitsSent = s.get(SystemCounterId.RETRANSMITS_SENT);
    this.retransmittedBytes = s.get(SystemCounterId.RETRANSMITTED_BYTES);
    this.invalidPackets = s.get(SystemCounterId.INVALID_PACKETS);
    this.shortSends = s.get(SystemCounterId.SHORT_SENDS);
    this.errors = s.get(SystemCounterId.ERRORS);
    this.imageLivenessTimeouts = s.get(SystemCounterId.IMAGE_LIVENESS_TIMEOUTS);
    this.publicationConnectionTimeouts = s.get(SystemCounterId.PUBLICATION_CONNECTION_TIMEOUTS);
    this.setupsSent = s.get(SystemCounterId.SETUP_MESSAGES_SENT);
    this.setupsReceived = s.get(SystemCounterId.SETUP_MESSAGES_RECEIVED);
    this.rttmSent = s.get(SystemCounterId.RTTM_SENT);
    this.rttmReceived = s.get(SystemCounterId.RTTM_RECEIVED);
    this.errorFramesReceived = s.get(SystemCounterId.ERROR_FRAMES_RECEIVED);
    this.flowControlOverRuns = s.get(SystemCounterId.FLOW_CONTROL_OVER_RUNS);
    this.flowControlUnderRuns = s.get(SystemCounterId.FLOW_CONTROL_UNDER_RUNS);
    this.retransmitOverflows = s.get(SystemCounterId.RETRANSMIT_OVERFLOW);
    this.imagesRejected = s.get(SystemCounterId.IMAGES_REJECTED);
    this.pendingSetupsRejected = s.get(SystemCounterId.PENDING_SETUPS_REJECTED);
    this.receiversRejected = s.get(SystemCounterId.RECEIVERS_REJECTED);
    this.nakGapsEvicted = s.get(SystemCounterId.NAK_GAPS_EVICTED);
    this.naksHeldBack = s.get(SystemCounterId.NAKS_HELD_BACK);
    this.lossGapFills = s.get(SystemCounterId.LOSS_GAP_FILLS);
    this.pendingImagesEvicted = s.get(SystemCounterId.PENDING_IMAGES_EVICTED);
    this.pendingImagesExpired = s.get(SystemCounterId.PENDING_IMAGES_EXPIRED);
    const byReason: AtomicCounter[] = [];
    for (let i = 0; i < INVALID_FRAME_REASON_COUNT; i++) byReason.push(s.get(invalidFrameCounterId(-1 - i as InvalidFrameReasonCode)));
    this.invalidFramesByReason = byReason;
    this.responseSetupsSent = s.get(SystemCounterId.RESPONSE_SETUPS_SENT);
    this.responseSetupsReceived = s.get(SystemCounterId.RESPONSE_SETUPS_RECEIVED);
    this.sendErrors = s.get(SystemCounterId.SEND_ERRORS);
    this.senderFlowControlLimits = s.get(SystemCounterId.SENDER_FLOW_CONTROL_LIMITS);
    this.unblockedPublications = s.get(SystemCounterId.UNBLOCKED_PUBLICATIONS);
    this.clientTimeouts = s.get(SystemCounterId.CLIENT_TIMEOUTS);
    this.conductorDutyCycles = {
      cycles: s.get(SystemCounterId.CONDUCTOR_DUTY_CYCLES),
      maxCycleTimeNs: s.get(SystemCounterId.CONDUCTOR_MAX_CYCLE_TIME),
      thresholdExceeded: s.get(SystemCounterId.CONDUCTOR_CYCLE_TIME_THRESHOLD_EXCEEDED),
    };
    this.senderDutyCycles = {
      cycles: s.get(SystemCounterId.SENDER_DUTY_CYCLES),
      maxCycleTimeNs: s.get(SystemCounterId.SENDER_MAX_CYCLE_TIME),
      thresholdExceeded: s.get(SystemCounterId.SENDER_CYCLE_TIME_THRESHOLD_EXCEEDED),
    };
    this.receiverDutyCycles = {
      cycles: s.get(SystemCounterId.RECEIVER_DUTY_CYCLES),
      maxCycleTimeNs: s.get(SystemCounterId.RECEIVER_MAX_CYCLE_TIME),
      thresholdExceeded: s.get(SystemCounterId.RECEIVER_CYCLE_TIME_THRESHOLD_EXCEEDED),
    };
  }

  /** Counts a dropped datagram or frame: the "Invalid packets" total and the counter of its reason. */
  invalidFrame(reason: InvalidFrameReasonCode): void {
    this.invalidPackets.increment();
    this.invalidFramesByReason[-1 - reason]!.increment();
  }

  close(): void {
    this.system.close();
  }
}

/** Everything the driver's parts share: settings and the injected clock, randomness and network. */
export interface DriverComponents {
  readonly settings: DriverSettings;
  readonly clock: NanoClock;
  readonly epochClock: EpochClock;
  readonly prng: Prng;
  readonly transport: DatagramTransport;
  readonly counters: CountersManager;
  readonly driverCounters: DriverCounters;
  readonly errorLog: DistinctErrorLog;
  /** Records an error in the distinct error log and the error counter. */
  onError(error: unknown): void;
  /** Counts a failed send (Socket send errors) and records the error as {@link onError} does; for DatagramSocketOptions.onSendError. */
  onSendError(error: Error): void;
  /** Asks the driver's agents to run soon (new data or control frames arrived). */
  wake(): void;
}
