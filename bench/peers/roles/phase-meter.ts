/**
 * The receiving side of a one-way measurement: counts the messages of the current phase (read
 * from each message's header) in a fresh {@link ThroughputMeter} per phase, and reports each
 * phase's rate tagged with its index. Messages of an earlier phase that are still arriving are
 * ignored; the first message of a later phase starts that phase.
 */
import type { Metrics } from '../../support/child-messages.js';
import { ThroughputMeter, type ThroughputWindow } from '../../transport/throughput-meter.js';
import { readSequence } from '../../transport/payload.js';
import { PHASE_OFFSET, SEQUENCE_OFFSET } from '../phases.js';

export class PhaseMeter {
  /** The current phase, -1 before the first message. */
  phase = -1;
  /** Messages of the current phase received so far. */
  phaseMessages = 0;
  /** Length of the first message of the current phase. */
  phaseLength = 0;
  /** Every message counted, over all phases. */
  messages = 0;
  private meter: ThroughputMeter | null = null;

  constructor(
    private readonly window: ThroughputWindow,
    private readonly onResult: (metrics: Metrics) => void,
  ) {}

  /** Counts one message; false when it belongs to an earlier phase and was ignored. */
  record(bytes: Uint8Array, offset: number, length: number): boolean {
    const phase = readSequence(bytes, offset + PHASE_OFFSET);
    if (phase !== this.phase) {
      if (this.phase >= 0 && phase < this.phase) return false;
      this.begin(phase, length);
    }
    this.phaseMessages++;
    this.messages++;
    this.meter!.record(readSequence(bytes, offset + SEQUENCE_OFFSET), length);
    return true;
  }

  cancel(): void {
    this.meter?.cancel();
  }

  private begin(phase: number, length: number): void {
    this.meter?.cancel();
    this.phase = phase;
    this.phaseMessages = 0;
    this.phaseLength = length;
    this.meter = new ThroughputMeter(this.window, (metrics) => this.onResult({ ...metrics, phase }));
  }
}
