import { AssertionFailure } from '../util/assert.js';
import type { NanoClock } from '../env/clock.js';
import type { DutyCycleTracker } from './duty-cycle-tracker.js';

/**
 * A unit of work with a duty cycle. `doWork` is synchronous and bounded: it reads the time it is
 * given, does what is due, and returns how much it did (0 means idle), so a single idle strategy
 * serves every agent. Agents are driven by an {@link AgentRunner} on the event loop, or stepped by
 * an {@link AgentInvoker} (tests, the simulator, embedding applications).
 */
export interface Agent {
  /** Names the agent in logs, errors and counters. */
  readonly roleName: string;
  /** Called once before the first doWork. */
  onStart?(): void;
  /** One duty cycle at `nowNs` (from the runner's NanoClock); returns the work done. */
  doWork(nowNs: number): number;
  /** Called once when the agent is closed. */
  onClose?(): void;
  /**
   * Where this agent's duty cycles are counted and timed; a {@link CompositeAgent} running the
   * agent measures each of its doWork calls into it.
   */
  readonly dutyCycleTracker?: DutyCycleTracker;
}

/**
 * Runs several agents as one, in order, summing their work. Agents may be added or removed at any
 * time; a change made during a duty cycle takes effect once that cycle ends. When one agent's
 * doWork throws, the others still run that cycle and the first error is rethrown afterwards
 * (an AssertionFailure is rethrown at once). The doWork of an agent with a
 * {@link Agent.dutyCycleTracker} is timed with the tracker's clock and recorded in it, also when
 * it throws: a reading before and one after, where the reading after a tracked member also
 * starts the next member when that is tracked with the same clock.
 */
export class CompositeAgent implements Agent {
  private agents: Agent[] = [];
  private readonly pending: Array<{ agent: Agent; add: boolean }> = [];
  private started = false;
  private closed = false;
  private inCycle = false;
  private readonly fixedRoleName: string | undefined;

  constructor(agents: ReadonlyArray<Agent> = [], options: { roleName?: string } = {}) {
    this.agents = [...agents];
    this.fixedRoleName = options.roleName;
  }

  get roleName(): string {
    return this.fixedRoleName ?? `[${this.agents.map((a) => a.roleName).join(',')}]`;
  }

  /** The agents currently in the cycle, in order. */
  get members(): ReadonlyArray<Agent> {
    return this.agents;
  }

  /** Adds an agent at the end; it is started first if this composite has started. */
  add(agent: Agent): void {
    if (this.inCycle) this.pending.push({ agent, add: true });
    else this.apply(agent, true);
  }

  /** Removes an agent (closing it if this composite has started); no-op when absent. */
  remove(agent: Agent): void {
    if (this.inCycle) this.pending.push({ agent, add: false });
    else this.apply(agent, false);
  }

  onStart(): void {
    this.started = true;
    for (const agent of this.agents) agent.onStart?.();
  }

  doWork(nowNs: number): number {
    let work = 0;
    let firstError: unknown = undefined;
    let failed = false;
    this.inCycle = true;
    try {
      const agents = this.agents;
      // The reading that ended the previous member's timed cycle, when it was tracked: it starts
      // the next one if that shares the clock, so adjacent tracked members cost one reading each.
      let markClock: NanoClock | null = null;
      let markNs = 0;
      for (let i = 0; i < agents.length; i++) {
        const agent = agents[i] as Agent;
        const tracker = agent.dutyCycleTracker;
        const clock = tracker === undefined ? null : tracker.clock;
        const startNs = clock === null ? 0 : clock === markClock ? markNs : clock.nanoTime();
        try {
          work += agent.doWork(nowNs);
        } catch (e) {
          if (e instanceof AssertionFailure) throw e;
          if (!failed) {
            failed = true;
            firstError = e;
          }
        }
        markClock = clock;
        if (clock !== null) {
          markNs = clock.nanoTime();
          (tracker as DutyCycleTracker).record(startNs, markNs);
        }
      }
    } finally {
      this.inCycle = false;
      this.applyPending();
    }
    if (failed) throw firstError;
    return work;
  }

  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    const errors: unknown[] = [];
    for (const agent of this.agents) {
      try {
        agent.onClose?.();
      } catch (e) {
        errors.push(e);
      }
    }
    this.agents = [];
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} agents failed to close`);
  }

  private applyPending(): void {
    while (this.pending.length > 0) {
      const { agent, add } = this.pending.shift() as { agent: Agent; add: boolean };
      this.apply(agent, add);
    }
  }

  private apply(agent: Agent, add: boolean): void {
    if (add) {
      if (this.started && !this.closed) agent.onStart?.();
      this.agents.push(agent);
      return;
    }
    const index = this.agents.indexOf(agent);
    if (index < 0) return;
    this.agents.splice(index, 1);
    if (this.started && !this.closed) agent.onClose?.();
  }
}
