import type { NanoClock, EpochClock } from '../env/clock.js';
import type { Prng } from '../env/prng.js';
import type { DatagramTransport } from '../env/datagram.js';
import type { CountersManager, AtomicCounter } from '../agent/counters.js';
import { SystemCounters } from '../agent/counter-types.js';
import { SystemCounterId } from '../agent/counter-types.js';
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
  private readonly system: SystemCounters;

  constructor(counters: CountersManager) {
    const s = (this.system = new SystemCounters(counters));
    this.bytesSent = s.get(SystemCounterId.BYTES_SENT);
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
  /** Asks the driver's agents to run soon (new data or control frames arrived). */
  wake(): void;
}
