/** What the retransmit handler resends through. */
export interface Resender {
  resend(termId: number, termOffset: number, length: number): void;
}

const FREE = 0;
const DELAYED = 1;
const LINGERING = 2;

/** Concurrent retransmissions a publication tracks (Aeron's default max-resend). */
export const RETRANSMIT_SLOTS_DEFAULT = 16;

/** Where dropped NAKs are counted (the driver's "Retransmit pool overflows" counter). */
export interface OverflowCounter {
  increment(): void;
}

/**
 * Retransmission on NAK with a bounded set of slots: a NAK starts a retransmission of its range
 * (after `delayNs`, 0 = at once); for `lingerNs` afterwards NAKs that start inside that range are
 * ignored, so a burst of NAKs for one gap costs one retransmission while NAKs for other gaps are
 * served in parallel. When every slot is busy a NAK is dropped (the receiver repeats it) and
 * counted in `droppedNaks` and the overflow counter. Slots live in preallocated arrays: nothing is allocated per NAK.
 */
export class RetransmitHandler {
  droppedNaks = 0;
  private readonly state: Uint8Array;
  private readonly termIds: Int32Array;
  private readonly offsets: Int32Array;
  private readonly lengths: Int32Array;
  private readonly deadlines: Float64Array;
  private activeCount = 0;

  constructor(
    private readonly delayNs: number,
    private readonly lingerNs: number,
    slotCount = RETRANSMIT_SLOTS_DEFAULT,
    private readonly overflowCounter: OverflowCounter | null = null,
  ) {
    this.state = new Uint8Array(slotCount);
    this.termIds = new Int32Array(slotCount);
    this.offsets = new Int32Array(slotCount);
    this.lengths = new Int32Array(slotCount);
    this.deadlines = new Float64Array(slotCount);
  }

  onNak(termId: number, termOffset: number, length: number, nowNs: number, resender: Resender): void {
    const slots = this.state.length;
    let free = -1;
    for (let i = 0; i < slots; i++) {
      if (this.state[i] === FREE) {
        if (free < 0) free = i;
        continue;
      }
      if (this.termIds[i] === termId && termOffset >= this.offsets[i]! && termOffset < this.offsets[i]! + this.lengths[i]!) return;
    }
    if (free < 0) {
      this.droppedNaks++;
      this.overflowCounter?.increment();
      return;
    }
    this.termIds[free] = termId;
    this.offsets[free] = termOffset;
    this.lengths[free] = length;
    this.activeCount++;
    if (this.delayNs === 0) {
      this.state[free] = LINGERING;
      this.deadlines[free] = nowNs + this.lingerNs;
      resender.resend(termId, termOffset, length);
    } else {
      this.state[free] = DELAYED;
      this.deadlines[free] = nowNs + this.delayNs;
    }
  }

  /** Performs delayed retransmissions that are due and frees expired slots; returns work done. */
  process(nowNs: number, resender: Resender): number {
    if (this.activeCount === 0) return 0;
    let work = 0;
    for (let i = 0; i < this.state.length; i++) {
      const state = this.state[i];
      if (state === FREE || nowNs < this.deadlines[i]!) continue;
      if (state === DELAYED) {
        this.state[i] = LINGERING;
        this.deadlines[i] = nowNs + this.lingerNs;
        resender.resend(this.termIds[i]!, this.offsets[i]!, this.lengths[i]!);
        work++;
      } else {
        this.state[i] = FREE;
        this.activeCount--;
      }
    }
    return work;
  }
}
