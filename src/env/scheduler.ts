/**
 * Deferred callbacks for rare paths (delayed or held datagrams in fault injection). Hot paths use
 * agents and duty cycles instead.
 */
export interface Scheduler {
  /** Runs `fn` once after about `delayMs` milliseconds. */
  schedule(delayMs: number, fn: () => void): void;
  /** Cancels every callback this scheduler still has pending. */
  cancelAll(): void;
}

/**
 * A setTimeout-based scheduler whose timers are `unref()`'d, so pending callbacks never keep the
 * process alive.
 */
export class NodeScheduler implements Scheduler {
  private readonly pending = new Set<NodeJS.Timeout>();

  schedule(delayMs: number, fn: () => void): void {
    const handle: NodeJS.Timeout = setTimeout(() => {
      this.pending.delete(handle);
      fn();
    }, Math.max(0, delayMs));
    handle.unref();
    this.pending.add(handle);
  }

  cancelAll(): void {
    for (const handle of this.pending) {
      clearTimeout(handle);
    }
    this.pending.clear();
  }

  /** Callbacks scheduled and not yet run or cancelled. */
  get pendingCount(): number {
    return this.pending.size;
  }
}

/** Creates a private scheduler, so that one owner's cancelAll() leaves other owners alone. */
export function createNodeScheduler(): NodeScheduler {
  return new NodeScheduler();
}

/**
 * A process-wide scheduler. Its cancelAll() cancels everything anyone scheduled through it; owners
 * that need to cancel their own callbacks should use {@link createNodeScheduler}.
 */
export const nodeScheduler: Scheduler = new NodeScheduler();
