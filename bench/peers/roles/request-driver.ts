/**
 * The client side of a request/response measurement, whatever carries the requests: keeps
 * `inFlight` requests outstanding (one per slot; a response frees its slot, which sends the next
 * request at once), records every round trip of the measurement window in an HDR histogram, and
 * reports the phase's percentiles and rate. After the window it stops issuing and waits for the
 * requests still out (at most `drainTimeoutMs`); a response that comes later, or to a request it
 * no longer waits for, is counted as stale and otherwise ignored.
 */
import type { Histogram } from 'hdr-histogram-js';
import type { ChildContext } from '../../support/child-runtime.js';
import { createHistogram, summarizeHistogram } from '../../transport/latency-meter.js';
import type { ThroughputWindow } from '../../transport/throughput-meter.js';
import { patternPayload, readSequence, writeSequence } from '../../transport/payload.js';
import { SEQUENCE_OFFSET, SLOT_OFFSET, type PhaseCommand } from '../phases.js';

/** The most requests one driver keeps in flight. */
export const SLOTS_MAX = 64;
const DRAIN_TIMEOUT_MS = 2000;

export interface RequestTransport {
  /** Sends the request in `buffer`; its response must reach `RequestDriver.onResponse`. */
  send(slot: number, buffer: Buffer): void;
}

type State = 'idle' | 'warm' | 'measure' | 'drain';

export class RequestDriver {
  /** Responses that matched no outstanding request. */
  stale = 0;
  completedTotal = 0;
  private readonly histogram: Histogram = createHistogram();
  private readonly sentMs = new Float64Array(SLOTS_MAX);
  private readonly expected = new Uint32Array(SLOTS_MAX);
  private readonly busy = new Uint8Array(SLOTS_MAX);
  private buffers: Buffer[] = [];
  private state: State = 'idle';
  private phase = -1;
  private inFlight = 0;
  private outstanding = 0;
  private completed = 0;
  private requestNumber = 0;
  private startMs = 0;
  private endMs = 0;
  private startCpu: NodeJS.CpuUsage | null = null;
  private endCpu: NodeJS.CpuUsage | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly transport: RequestTransport,
    private readonly context: ChildContext,
    private readonly window: ThroughputWindow,
  ) {}

  /** Starts a phase: `command.inFlight` requests of `command.length` bytes. */
  start(command: PhaseCommand): void {
    if (command.inFlight < 1 || command.inFlight > SLOTS_MAX) throw new Error(`inFlight ${command.inFlight} is outside 1..${SLOTS_MAX}`);
    this.finish();
    this.phase = command.phase;
    this.inFlight = command.inFlight;
    const pattern = patternPayload(command.length);
    this.buffers = [];
    for (let slot = 0; slot < SLOTS_MAX; slot++) this.buffers.push(Buffer.from(pattern));
    this.histogram.reset();
    this.completed = 0;
    this.state = 'warm';
    this.timer = setTimeout(() => this.beginMeasure(), this.window.warmupMs);
    for (let slot = 0; slot < this.inFlight; slot++) this.issue(slot);
  }

  /** A response carrying the request's header (request number and slot) back. */
  onResponse(bytes: Uint8Array, offset: number): void {
    this.complete(readSequence(bytes, offset + SLOT_OFFSET), readSequence(bytes, offset + SEQUENCE_OFFSET));
  }

  /** The request `requestNumber` of `slot` has its answer. */
  complete(slot: number, requestNumber: number): void {
    const nowMs = performance.now();
    if (slot >= SLOTS_MAX || this.busy[slot] === 0 || this.expected[slot] !== requestNumber) {
      this.stale++;
      return;
    }
    this.busy[slot] = 0;
    this.outstanding--;
    this.completedTotal++;
    if (this.state === 'measure') {
      this.histogram.recordValue(Math.max(1, Math.round((nowMs - this.sentMs[slot]!) * 1e6)));
      this.completed++;
    }
    if (this.state === 'warm' || this.state === 'measure') this.issue(slot);
    else if (this.state === 'drain' && this.outstanding === 0) this.finish();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.state = 'idle';
  }

  private issue(slot: number): void {
    const buffer = this.buffers[slot]!;
    const number = (this.requestNumber = (this.requestNumber + 1) >>> 0);
    writeSequence(buffer, SEQUENCE_OFFSET, number);
    writeSequence(buffer, SLOT_OFFSET, slot);
    this.expected[slot] = number;
    this.busy[slot] = 1;
    this.outstanding++;
    this.sentMs[slot] = performance.now();
    this.transport.send(slot, buffer);
  }

  private beginMeasure(): void {
    this.state = 'measure';
    this.completed = 0;
    this.startMs = performance.now();
    this.startCpu = process.cpuUsage();
    this.timer = setTimeout(() => this.endMeasure(), this.window.measureMs);
  }

  private endMeasure(): void {
    this.state = 'drain';
    this.endMs = performance.now();
    this.endCpu = process.cpuUsage(this.startCpu ?? undefined);
    if (this.outstanding === 0) this.finish();
    else this.timer = setTimeout(() => this.finish(), DRAIN_TIMEOUT_MS);
  }

  /** Reports a measured phase (once) and forgets whatever is still out. */
  private finish(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const measured = this.state === 'drain';
    const abandoned = this.outstanding;
    this.busy.fill(0);
    this.outstanding = 0;
    this.state = 'idle';
    if (!measured) return;
    const elapsedMs = this.endMs - this.startMs;
    const cpu = this.endCpu;
    this.context.result({
      phase: this.phase,
      inFlight: this.inFlight,
      ...summarizeHistogram(this.histogram),
      roundTripsPerSec: elapsedMs > 0 ? (this.completed * 1000) / elapsedMs : 0,
      clientCpuPct: cpu === null || elapsedMs <= 0 ? null : (cpu.user + cpu.system) / 10 / elapsedMs,
      abandoned,
    });
  }
}
