/**
 * Echoes every message of a subscription back on a publication, in order, in the manner of Aeron's
 * Pong sample. A message that cannot be offered at once (back pressure, not yet connected) is
 * copied into a bounded queue and retried on the next event-loop turn; later messages queue behind
 * it so the order is kept. Used by `skein pong` and `skein demo`.
 */
import type { Publication } from '../client/publication.js';
import type { Subscription } from '../client/subscription.js';
import { ADMIN_ACTION, CLOSED, MAX_POSITION_EXCEEDED } from '../client/publication-codes.js';
import { FragmentAssembler } from '../logbuffer/fragment-assembler.js';

/** Messages waiting to be echoed at most; beyond this, messages are dropped and counted. */
export const PENDING_MESSAGES_MAX = 4096;

export class PongEcho {
  /** Messages echoed. */
  echoed = 0;
  /** Offers that found the publication back pressured or not connected. */
  retries = 0;
  /** Messages dropped because the queue was full or the publication closed. */
  dropped = 0;
  private readonly pending: Uint8Array[] = [];
  private flushScheduled = false;
  private readonly assembler: FragmentAssembler;
  private readonly flushBound = (): void => this.flush();

  constructor(
    private readonly publication: Publication,
    private readonly subscription: Subscription,
    private readonly onEcho: (echoed: number) => void = () => undefined,
  ) {
    this.assembler = new FragmentAssembler((buffer, offset, length) => this.onPing(buffer, offset, length));
  }

  start(): void {
    this.subscription.onFragment(this.assembler.onFragment, 64);
  }

  stop(): void {
    this.subscription.stopFragments();
  }

  private onPing(buffer: Uint8Array, offset: number, length: number): void {
    if (this.pending.length === 0 && this.offer(buffer, offset, length)) return;
    if (this.pending.length >= PENDING_MESSAGES_MAX) {
      this.dropped++;
      return;
    }
    this.pending.push(buffer.slice(offset, offset + length));
    this.scheduleFlush();
  }

  /** Offers one message; true when it was echoed (or dropped for good). */
  private offer(buffer: Uint8Array, offset: number, length: number): boolean {
    let result = ADMIN_ACTION;
    for (let attempt = 0; attempt < 3 && result === ADMIN_ACTION; attempt++) {
      result = this.publication.offer(buffer, offset, length);
    }
    if (result >= 0) {
      this.echoed++;
      this.onEcho(this.echoed);
      return true;
    }
    if (result === CLOSED || result === MAX_POSITION_EXCEEDED) {
      this.dropped++;
      return true;
    }
    this.retries++;
    return false;
  }

  private flush(): void {
    this.flushScheduled = false;
    const pending = this.pending;
    while (pending.length > 0) {
      const message = pending[0]!;
      if (!this.offer(message, 0, message.length)) {
        this.scheduleFlush();
        return;
      }
      pending.shift();
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flushBound);
  }
}
