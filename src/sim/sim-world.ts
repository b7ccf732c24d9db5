import { AssertionFailure } from '../util/assert.js';
import { ErrorCode, SkeinError } from '../util/errors.js';
import { SeededPrng, type Prng } from '../env/prng.js';
import type { Agent } from '../agent/agent.js';
import { AgentInvoker, type ErrorHandler } from '../agent/agent-invoker.js';
import { SimClock } from './sim-clock.js';
import { SimNetwork, type SimNetworkOptions } from './sim-network.js';

export interface SimWorldOptions {
  /** Seeds every random choice of the world; the same seed and steps replay the same run. */
  seed: number;
  network?: Omit<SimNetworkOptions, 'clock' | 'prng'>;
  /** Simulated time per step. @default 100_000 (100 µs) */
  tickNs?: number;
  /** Simulated time at creation. @default 0 */
  startNs?: number;
  /** Receives errors agents throw. @default collect them in {@link SimWorld.errors} */
  errorHandler?: ErrorHandler;
}

export const DEFAULT_SIM_TICK_NS = 100_000;

/**
 * A deterministic world: one simulated clock, one simulated network and a list of agents stepped
 * in a fixed order. The network draws from a stream forked off the world's PRNG, so agents and
 * tests may use {@link prng} without changing what the network does.
 *
 * An AssertionFailure thrown by an agent is rethrown with the seed, time and step appended, so the
 * failing run can be replayed.
 */
export class SimWorld {
  readonly seed: number;
  readonly clock: SimClock;
  readonly network: SimNetwork;
  readonly prng: Prng;
  readonly tickNs: number;
  /** Errors agents threw, when no errorHandler was given. */
  readonly errors: unknown[] = [];
  private readonly errorHandler: ErrorHandler;
  private readonly invokers: AgentInvoker[] = [];
  private readonly paused = new Set<Agent>();
  private steps = 0;

  constructor(options: SimWorldOptions) {
    this.seed = options.seed;
    this.tickNs = options.tickNs ?? DEFAULT_SIM_TICK_NS;
    if (!(Number.isSafeInteger(this.tickNs) && this.tickNs >= 1)) {
      throw new SkeinError(ErrorCode.CONFIG_INVALID, `sim tickNs=${String(options.tickNs)} is invalid; expected a safe integer >= 1`);
    }
    this.clock = new SimClock(options.startNs ?? 0);
    this.prng = new SeededPrng(options.seed);
    this.network = new SimNetwork({ ...options.network, clock: this.clock, prng: this.prng.fork() });
    this.errorHandler = options.errorHandler ?? ((e: unknown) => void this.errors.push(e));
  }

  /** Steps taken so far. */
  get stepCount(): number {
    return this.steps;
  }

  /** Starts the agent (onStart) and steps it after the agents added before it. */
  addAgent(agent: Agent): void {
    const invoker = new AgentInvoker(agent, this.clock, this.errorHandler);
    this.guard(() => invoker.start());
    if (!invoker.isClosed) this.invokers.push(invoker);
  }

  /** Closes the agent (onClose) and stops stepping it; returns false when it was not added. */
  removeAgent(agent: Agent): boolean {
    const index = this.invokers.findIndex((i) => i.agent === agent);
    if (index < 0) return false;
    const [invoker] = this.invokers.splice(index, 1);
    this.paused.delete(agent);
    this.guard(() => invoker?.close());
    return true;
  }

  /**
   * Stops stepping the agent without closing it, as a stalled event loop would (a long
   * synchronous task, a GC pause); {@link resumeAgent} steps it again. False when it was not added.
   */
  pauseAgent(agent: Agent): boolean {
    if (!this.invokers.some((i) => i.agent === agent)) return false;
    this.paused.add(agent);
    return true;
  }

  /** Steps a paused agent again from the next step; false when it was not paused. */
  resumeAgent(agent: Agent): boolean {
    return this.paused.delete(agent);
  }

  /** Advances the clock by one tick, delivers the datagrams now due, then runs each agent's doWork once (paused agents excepted). */
  step(): void {
    this.steps++;
    this.clock.advance(this.tickNs);
    this.guard(() => {
      this.network.deliver(this.clock.nanoTime());
      const invokers = this.invokers;
      const paused = this.paused;
      const count = invokers.length;
      for (let i = 0; i < count && i < invokers.length; i++) {
        const invoker = invokers[i] as AgentInvoker;
        if (paused.size === 0 || !paused.has(invoker.agent)) invoker.invoke();
      }
    });
  }

  /** Steps until `predicate()` holds (checked before each step); false if `maxSteps` ran out first. */
  runUntil(predicate: () => boolean, maxSteps: number): boolean {
    for (let i = 0; i < maxSteps; i++) {
      if (predicate()) return true;
      this.step();
    }
    return predicate();
  }

  /** Closes every agent, last added first. */
  close(): void {
    while (this.invokers.length > 0) {
      const invoker = this.invokers.pop() as AgentInvoker;
      this.guard(() => invoker.close());
    }
  }

  /** `seed=<seed> t=<ns>ns step=<n>`: what a failure report needs to replay the run. */
  describe(): string {
    return `seed=${this.seed} t=${this.clock.nanoTime()}ns step=${this.steps}`;
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof AssertionFailure) {
        throw new AssertionFailure(`${e.message} [sim ${this.describe()}]`, { cause: e });
      }
      throw e;
    }
  }
}
