/**
 * The retry budget of a consumer (docs/rpc.md, "Retries"), as gRPC throttles retries: tokens
 * start at `maxTokens`; each failed attempt costs one, each success earns `tokenRatio`; a retry
 * is allowed only while more than half the tokens are left. So when many calls fail at once,
 * retries stop adding load; as calls succeed again they come back.
 */
import { ErrorCode, SkeinError } from '../util/errors.js';

export interface RetryBudgetOptions {
  /** @default 10 */
  readonly maxTokens?: number;
  /** @default 0.1 */
  readonly tokenRatio?: number;
}

export class RetryBudget {
  readonly maxTokens: number;
  readonly tokenRatio: number;
  private tokensValue: number;
  /** Retries refused by the budget. */
  throttled = 0;

  constructor(options: RetryBudgetOptions = {}) {
    this.maxTokens = options.maxTokens ?? 10;
    this.tokenRatio = options.tokenRatio ?? 0.1;
    if (!(this.maxTokens > 0 && this.maxTokens <= 1000)) throw new SkeinError(ErrorCode.CONFIG_INVALID, `retry budget maxTokens=${this.maxTokens} is invalid; expected (0, 1000]`);
    if (!(this.tokenRatio > 0 && this.tokenRatio <= 1)) throw new SkeinError(ErrorCode.CONFIG_INVALID, `retry budget tokenRatio=${this.tokenRatio} is invalid; expected (0, 1]`);
    this.tokensValue = this.maxTokens;
  }

  get tokens(): number {
    return this.tokensValue;
  }

  onFailure(): void {
    this.tokensValue = Math.max(0, this.tokensValue - 1);
  }

  onSuccess(): void {
    this.tokensValue = Math.min(this.maxTokens, this.tokensValue + this.tokenRatio);
  }

  /** Whether a retry may go now; counts the refusals. */
  allowRetry(): boolean {
    if (this.tokensValue > this.maxTokens / 2) return true;
    this.throttled++;
    return false;
  }
}
