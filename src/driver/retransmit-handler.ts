/** What the retransmit handler resends through. */
export interface Resender {
  resend(termId: number, termOffset: number, length: number): void;
}

/**
 * Unicast retransmission with one slot: a NAK starts a retransmission (after `delayNs`, 0 = at
 * once); for `lingerNs` afterwards NAKs that fall inside the same range are ignored, so a burst of
 * NAKs for one gap costs one retransmission. A NAK for another range replaces the slot.
 */
export class RetransmitHandler {
  private active = false;
  private pending = false;
  private termId = 0;
  private termOffset = 0;
  private length = 0;
  private resendAtNs = 0;
  private lingerUntilNs = 0;

  constructor(
    private readonly delayNs: number,
    private readonly lingerNs: number,
  ) {}

  onNak(termId: number, termOffset: number, length: number, nowNs: number, resender: Resender): void {
    if (this.active && termId === this.termId && termOffset >= this.termOffset && termOffset < this.termOffset + this.length) {
      if (this.pending || nowNs < this.lingerUntilNs) return;
    }
    this.active = true;
    this.termId = termId;
    this.termOffset = termOffset;
    this.length = length;
    if (this.delayNs === 0) {
      this.pending = false;
      this.lingerUntilNs = nowNs + this.lingerNs;
      resender.resend(termId, termOffset, length);
    } else {
      this.pending = true;
      this.resendAtNs = nowNs + this.delayNs;
    }
  }

  /** Performs a delayed retransmission when due and expires the linger; returns work done. */
  process(nowNs: number, resender: Resender): number {
    if (!this.active) return 0;
    if (this.pending) {
      if (nowNs < this.resendAtNs) return 0;
      this.pending = false;
      this.lingerUntilNs = nowNs + this.lingerNs;
      resender.resend(this.termId, this.termOffset, this.length);
      return 1;
    }
    if (nowNs >= this.lingerUntilNs) this.active = false;
    return 0;
  }
}
