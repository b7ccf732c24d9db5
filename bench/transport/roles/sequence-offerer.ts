/**
 * The publishing half of the Skein IPC throughput roles: offers sequence-numbered messages in
 * batches, stopping a batch at back pressure (or not connected), retrying ADMIN_ACTION at once.
 */
import { ADMIN_ACTION, BACK_PRESSURED, NOT_CONNECTED, publicationCodeName, type Publication } from '../../../src/index.js';
import { patternPayload, writeSequence } from '../payload.js';

export class SequenceOfferer {
  sent = 0;
  backPressured = 0;
  /** Why offering stopped for good, or null while it goes on. */
  failure: string | null = null;
  private readonly payload: Uint8Array;

  constructor(
    private readonly publication: Publication,
    private readonly length: number,
    private readonly batchMax: number,
  ) {
    this.payload = patternPayload(length);
  }

  /** Offers up to `batchMax` messages; false once an offer failed for good (see `failure`). */
  offerBatch(): boolean {
    const { publication, payload, length, batchMax } = this;
    for (let offered = 0; offered < batchMax; ) {
      writeSequence(payload, 0, this.sent);
      const result = publication.offer(payload, 0, length);
      if (result >= 0) {
        this.sent++;
        offered++;
      } else if (result === BACK_PRESSURED || result === NOT_CONNECTED) {
        this.backPressured++;
        break;
      } else if (result !== ADMIN_ACTION) {
        this.failure = `offer failed with ${publicationCodeName(result)} after ${this.sent} messages`;
        return false;
      }
    }
    return true;
  }
}
