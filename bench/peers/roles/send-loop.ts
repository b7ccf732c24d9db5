/**
 * The sending side of a one-way measurement for libraries with a synchronous send: each event-loop
 * turn sends up to `batch` messages of the current phase, then yields with setImmediate so the
 * library's own I/O (and the runner's commands) get their turn. A send may say "taken, but wait"
 * (a stream's write returned false: resume on 'drain') or "not taken, retry" (back pressure).
 * An optional credit window stops the loop while the slowest receiver is too far behind.
 */
import { patternPayload, writeSequence } from '../../transport/payload.js';
import { creditEveryMessages, creditWindowMessages, PHASE_OFFSET, SEQUENCE_OFFSET, payloadPoolSlots, phaseCommand, type PhaseCommand } from '../phases.js';
import type { RoleHandle } from '../../support/child-runtime.js';

export const SENT = 0;
export const SENT_WAIT = 1;
export const RETRY = 2;
export type SendOutcome = typeof SENT | typeof SENT_WAIT | typeof RETRY;

export interface SendSink {
  /** Sends `length` bytes of `buffer`; the buffer is not rewritten for `payloadPoolSlots` sends. */
  send(buffer: Buffer, length: number): SendOutcome;
}

/** Buffers of one length, handed out in rotation, each filled with the benchmark pattern. */
export class PayloadPool {
  private readonly buffers: Buffer[];
  private index = 0;

  constructor(slots: number, length: number) {
    const pattern = patternPayload(length);
    const backing = Buffer.alloc(slots * length);
    this.buffers = [];
    for (let i = 0; i < slots; i++) {
      const buffer = backing.subarray(i * length, (i + 1) * length);
      buffer.set(pattern);
      this.buffers.push(buffer);
    }
  }

  next(): Buffer {
    const buffer = this.buffers[this.index]!;
    this.index = this.index + 1 === this.buffers.length ? 0 : this.index + 1;
    return buffer;
  }
}

/** Credit message: receiver index, phase and messages received in that phase (u32 LE each). */
export const CREDIT_LENGTH = 12;

export function encodeCredit(receiver: number, phase: number, count: number): Buffer {
  const buffer = Buffer.alloc(CREDIT_LENGTH);
  buffer.writeUInt32LE(receiver, 0);
  buffer.writeUInt32LE(phase, 4);
  buffer.writeUInt32LE(count >>> 0, 8);
  return buffer;
}

/** Receiver side: sends a credit every `creditEveryMessages` messages of a phase. */
export class CreditReporter {
  constructor(
    private readonly receiver: number,
    private readonly send: (credit: Buffer) => void,
  ) {}

  /** Call after each counted message with the phase, the phase's count and message length. */
  onMessage(phase: number, phaseMessages: number, length: number): void {
    if (phaseMessages % creditEveryMessages(length) === 0) this.send(encodeCredit(this.receiver, phase, phaseMessages));
  }
}

/** Sender side: how far ahead of its slowest receiver a sender is allowed to be. */
export class CreditWindow {
  private readonly credited: Float64Array;
  private phase = -1;
  private sent = 0;
  private windowMessages = 0;

  constructor(
    receivers: number,
    private readonly onOpen: () => void,
  ) {
    this.credited = new Float64Array(receivers);
  }

  reset(phase: number, length: number): void {
    this.phase = phase;
    this.sent = 0;
    this.credited.fill(0);
    this.windowMessages = creditWindowMessages(length);
  }

  onSent(): void {
    this.sent++;
  }

  get open(): boolean {
    let slowest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.credited.length; i++) slowest = Math.min(slowest, this.credited[i]!);
    return this.sent - slowest < this.windowMessages;
  }

  /** Takes a credit message (see `encodeCredit`); ignores other phases and unknown receivers. */
  onCredit(bytes: Uint8Array): void {
    if (bytes.length < CREDIT_LENGTH) return;
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const receiver = view.readUInt32LE(0);
    if (view.readUInt32LE(4) !== this.phase || receiver >= this.credited.length) return;
    const wasOpen = this.open;
    this.credited[receiver] = Math.max(this.credited[receiver]!, view.readUInt32LE(8));
    if (!wasOpen && this.open) this.onOpen();
  }
}

export interface SendLoopOptions {
  /** Messages sent per event-loop turn at most. */
  readonly batch: number;
  readonly credit?: CreditWindow;
  /** Called at the end of every turn (e.g. to poll an in-process receiver). */
  readonly afterTurn?: () => void;
}

export class SendLoop {
  sent = 0;
  retries = 0;
  waits = 0;
  private phase = -1;
  private length = 0;
  private sequence = 0;
  private pool: PayloadPool | null = null;
  private pending: Buffer | null = null;
  private running = true;
  private scheduled = false;
  private parked = false;
  private readonly turnBound = (): void => this.turn();

  constructor(
    private readonly sink: SendSink,
    private readonly options: SendLoopOptions,
  ) {}

  /** Starts sending the messages of a phase (the previous phase ends). */
  start(command: PhaseCommand): void {
    this.phase = command.phase;
    this.length = command.length;
    this.sequence = 0;
    this.pending = null;
    this.pool = new PayloadPool(payloadPoolSlots(command.length), command.length);
    this.options.credit?.reset(command.phase, command.length);
    this.parked = false;
    this.schedule();
  }

  /** Resumes a loop that waits for a drain or a credit. */
  wake(): void {
    if (!this.parked) return;
    this.parked = false;
    this.schedule();
  }

  stop(): void {
    this.running = false;
  }

  private schedule(): void {
    if (this.scheduled || !this.running) return;
    this.scheduled = true;
    setImmediate(this.turnBound);
  }

  private turn(): void {
    this.scheduled = false;
    if (!this.running || this.pool === null) return;
    const { batch, credit } = this.options;
    for (let i = 0; i < batch; i++) {
      if (credit !== undefined && !credit.open) {
        this.parked = true;
        break;
      }
      let buffer = this.pending;
      if (buffer === null) {
        buffer = this.pool.next();
        writeSequence(buffer, SEQUENCE_OFFSET, this.sequence);
        writeSequence(buffer, PHASE_OFFSET, this.phase);
      }
      const outcome = this.sink.send(buffer, this.length);
      if (outcome === RETRY) {
        this.pending = buffer;
        this.retries++;
        break;
      }
      this.pending = null;
      this.sequence = (this.sequence + 1) >>> 0;
      this.sent++;
      credit?.onSent();
      if (outcome === SENT_WAIT) {
        this.parked = true;
        this.waits++;
        break;
      }
    }
    this.options.afterTurn?.();
    if (!this.parked) this.schedule();
  }
}

/** Anything that sends the phases it is told and counts what it sent. */
export interface PhaseSender {
  readonly sent: number;
  start(command: PhaseCommand): void;
  stop(): void;
}

/**
 * The handle of a sending role: phase commands start `sender`; stop ends it, then `release` frees
 * the library's connections and sockets, and the role reports how many messages it sent.
 */
export function sendingRole(sender: PhaseSender, release: () => void | Promise<void>): RoleHandle {
  return {
    command: (data) => sender.start(phaseCommand(data)),
    stop: async () => {
      sender.stop();
      await release();
      return { sent: sender.sent };
    },
  };
}
