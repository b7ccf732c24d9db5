import type { FlowControlParams } from '../protocol/channel-params.js';

/**
 * How a network publication with several receivers turns their status messages into a sender
 * limit (PROTOCOL.md §8.2). Positions are stream positions; a receiver's limit is the position it
 * reported plus its window.
 */
export interface FlowControl {
  /** Names the strategy in errors and counters: `max`, `min` or `tagged`. */
  readonly name: string;
  /**
   * A status message from `receiverId` (with its group tag, when it carried one); returns the
   * sender limit to use from now on.
   */
  onStatusMessage(receiverId: bigint, position: number, window: number, groupTag: bigint | undefined, nowNs: number, senderLimit: number): number;
  /** A receiver said it is leaving (an end-of-stream status message) or was rejected. */
  onReceiverGone(receiverId: bigint): void;
  /** Periodic check: drops receivers silent past the timeout; returns the sender limit to use. */
  onIdle(nowNs: number, senderLimit: number): number;
  /** True while the receivers the strategy requires are there (its minimum group size). */
  hasRequiredReceivers(): boolean;
  /** Receivers the strategy tracks now. */
  readonly receiverCount: number;
}

/**
 * `max` (and plain unicast): the fastest receiver sets the pace. The limit only grows; receivers
 * are not tracked (the publication's own liveness tracking says whether anyone is connected).
 */
export class MaxFlowControl implements FlowControl {
  readonly name = 'max';
  readonly receiverCount = 0;

  onStatusMessage(_receiverId: bigint, position: number, window: number, _groupTag: bigint | undefined, _nowNs: number, senderLimit: number): number {
    const proposed = position + window;
    return proposed > senderLimit ? proposed : senderLimit;
  }

  onReceiverGone(): void {}

  onIdle(_nowNs: number, senderLimit: number): number {
    return senderLimit;
  }

  hasRequiredReceivers(): boolean {
    return true;
  }
}

interface TrackedReceiver {
  limit: number;
  lastStatusNs: number;
}

/**
 * `min` and `tagged`: the slowest receiver that counts sets the pace. Every receiver counts under
 * `min`; under `tagged` only those whose status messages carry the configured group tag. A
 * receiver silent for `timeoutNs` (or one that says it is leaving) no longer holds the others
 * back. Until `groupMinSize` receivers count, the limit does not move and the publication is not
 * connected. A receiver that joins late reports the position it joined at, near the sender's, so
 * it does not stall the others: a status message never lowers the limit; only the periodic check
 * recomputes it from the receivers that are left.
 */
export class MinFlowControl implements FlowControl {
  readonly name: string;
  private readonly receivers = new Map<bigint, TrackedReceiver>();

  constructor(
    private readonly timeoutNs: number,
    private readonly groupMinSize: number,
    /** The group tag that counts (`tagged`), or undefined (`min`: every receiver counts). */
    private readonly groupTag: bigint | undefined,
  ) {
    this.name = groupTag === undefined ? 'min' : 'tagged';
  }

  get receiverCount(): number {
    return this.receivers.size;
  }

  onStatusMessage(receiverId: bigint, position: number, window: number, groupTag: bigint | undefined, nowNs: number, senderLimit: number): number {
    const counts = this.groupTag === undefined || groupTag === this.groupTag;
    if (counts) {
      const limit = position + window;
      const receiver = this.receivers.get(receiverId);
      if (receiver === undefined) this.receivers.set(receiverId, { limit, lastStatusNs: nowNs });
      else {
        receiver.limit = limit;
        receiver.lastStatusNs = nowNs;
      }
    }
    if (this.receivers.size < this.groupMinSize) return senderLimit;
    if (this.receivers.size === 0) {
      // Nobody counts (under `tagged`, only receivers of other groups are there): they pace it.
      const limit = position + window;
      return limit > senderLimit ? limit : senderLimit;
    }
    const min = this.minLimit();
    return min > senderLimit ? min : senderLimit;
  }

  onReceiverGone(receiverId: bigint): void {
    this.receivers.delete(receiverId);
  }

  onIdle(nowNs: number, senderLimit: number): number {
    for (const [receiverId, receiver] of this.receivers) {
      if (nowNs - receiver.lastStatusNs > this.timeoutNs) this.receivers.delete(receiverId);
    }
    if (this.receivers.size === 0 || this.receivers.size < this.groupMinSize) return senderLimit;
    return this.minLimit();
  }

  hasRequiredReceivers(): boolean {
    return this.receivers.size >= this.groupMinSize;
  }

  private minLimit(): number {
    let min = Number.MAX_SAFE_INTEGER;
    for (const receiver of this.receivers.values()) if (receiver.limit < min) min = receiver.limit;
    return min;
  }
}

/** Defaults of the `min` and `tagged` strategies (Aeron's). */
export interface FlowControlDefaults {
  /** A receiver silent this long no longer counts. @default 5 s */
  readonly receiverTimeoutNs: number;
  /** Receivers required before the publication counts as connected. @default 0 */
  readonly groupMinSize: number;
  /** The group tag of `tagged` when the URI names none. @default -1 */
  readonly groupTag: bigint;
}

/**
 * The strategy a channel asks for: `fc=` on a multicast or multi-destination channel, `max` when
 * it says nothing; a plain unicast channel always uses `max` (Aeron ignores `fc=` there).
 */
export function flowControlFor(fc: FlowControlParams | undefined, hasGroupSemantics: boolean, defaults: FlowControlDefaults): FlowControl {
  if (!hasGroupSemantics || fc === undefined || fc.strategy === 'max') return new MaxFlowControl();
  const timeoutNs = fc.timeoutNs ?? defaults.receiverTimeoutNs;
  const groupMinSize = fc.groupMinSize ?? defaults.groupMinSize;
  return new MinFlowControl(timeoutNs, groupMinSize, fc.strategy === 'tagged' ? (fc.groupTag ?? defaults.groupTag) : undefined);
}

/** The group tag `tagged` uses when `fc=tagged` names none (Aeron's default). */
export const DEFAULT_FLOW_CONTROL_GROUP_TAG = -1n;
