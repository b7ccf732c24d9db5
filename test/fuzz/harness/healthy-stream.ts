/**
 * A well-behaved stream that runs while a fuzzer attacks the same endpoint: the publication offers
 * numbered messages of varying length (some fragmented) whose every byte derives from the number;
 * the subscription's fragments of the publication's session are reassembled and checked to arrive
 * once, in order and intact. Fragments of other sessions (images the attacker created) are
 * reassembled too, so hostile logs go through the client's reader and assembler, and only counted.
 */
import { FragmentAssembler } from '../../../src/logbuffer/fragment-assembler.js';
import type { Header } from '../../../src/logbuffer/header.js';
import type { Publication } from '../../../src/client/publication.js';
import type { Subscription } from '../../../src/client/subscription.js';

/** Length of message `sequence`: 4 to about 3 KiB, so some need several MTU-sized fragments. */
export function healthyMessageLength(sequence: number): number {
  return 4 + ((sequence * 7919) % 3001);
}

/** Byte `index` (>= 4) of message `sequence`. */
function patternByte(sequence: number, index: number): number {
  return (sequence * 31 + index * 7) & 0xff;
}

export function writeHealthyMessage(buffer: Uint8Array, sequence: number): number {
  const length = healthyMessageLength(sequence);
  new DataView(buffer.buffer, buffer.byteOffset, 4).setUint32(0, sequence, true);
  for (let i = 4; i < length; i++) buffer[i] = patternByte(sequence, i);
  return length;
}

export class HealthyStream {
  /** Messages the stream will carry; lowered to what was sent by {@link finish}. */
  messageCount: number;
  sent = 0;
  delivered = 0;
  /** Fragments (after reassembly) of sessions other than the publication's. */
  foreignMessages = 0;
  foreignBytes = 0;
  /** The first discrepancy seen, or null. */
  failure: string | null = null;
  private readonly payload = new Uint8Array(4096);
  private readonly assembler: FragmentAssembler;

  constructor(
    private readonly publication: Publication,
    private readonly subscription: Subscription,
    messageCount: number,
  ) {
    this.messageCount = messageCount;
    this.assembler = new FragmentAssembler((buffer, offset, length, header) => this.onMessage(buffer, offset, length, header));
  }

  /** Offers nothing more: the stream is complete once what was sent is delivered. */
  finish(): void {
    this.messageCount = this.sent;
  }

  get isComplete(): boolean {
    return this.delivered === this.messageCount;
  }

  /** Offers what the publication takes (up to `offerMax` messages) and polls up to `fragmentLimit` fragments. */
  pump(offerMax = 8, fragmentLimit = 64): void {
    for (let i = 0; i < offerMax && this.sent < this.messageCount; i++) {
      const length = writeHealthyMessage(this.payload, this.sent);
      if (this.publication.offer(this.payload, 0, length) < 0) break;
      this.sent++;
    }
    this.subscription.poll(this.assembler.onFragment, fragmentLimit);
  }

  /** Frees the reassembly buffer kept for a session whose image went away. */
  forgetSession(sessionId: number): void {
    this.assembler.freeSessionBuffer(sessionId);
  }

  describe(): string {
    const of = this.messageCount === Number.MAX_SAFE_INTEGER ? '' : ` of ${this.messageCount}`;
    return `healthy stream: sent ${this.sent}, delivered ${this.delivered}${of}, foreign messages ${this.foreignMessages}` +
      (this.failure === null ? '' : `, FAILURE: ${this.failure}`);
  }

  private onMessage(buffer: Uint8Array, offset: number, length: number, header: Header): void {
    if (header.sessionId !== this.publication.sessionId || header.streamId !== this.publication.streamId) {
      this.foreignMessages++;
      this.foreignBytes += length;
      return;
    }
    if (this.failure !== null) return;
    const expected = this.delivered;
    if (length < 4) {
      this.failure = `message after ${expected - 1} has length ${length}`;
      return;
    }
    const sequence = new DataView(buffer.buffer, buffer.byteOffset + offset, 4).getUint32(0, true);
    if (sequence !== expected) {
      this.failure = `expected message ${expected}, got ${sequence} at position ${header.position}`;
      return;
    }
    if (length !== healthyMessageLength(sequence)) {
      this.failure = `message ${sequence} has length ${length}, expected ${healthyMessageLength(sequence)}`;
      return;
    }
    for (let i = 4; i < length; i++) {
      if (buffer[offset + i] !== patternByte(sequence, i)) {
        this.failure = `message ${sequence} byte ${i} is ${buffer[offset + i]}, expected ${patternByte(sequence, i)}`;
        return;
      }
    }
    this.delivered++;
  }
}
