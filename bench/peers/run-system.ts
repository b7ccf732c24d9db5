/**
 * Runs one system through the phases of its scenario once (one repetition): starts its children in
 * order, each when the one before is ready; for every phase sends the command to the drivers and
 * waits for a result from every measuring child; then stops them all. Every wait has a timeout,
 * one failing child ends the run at once, and every child is stopped, or killed by pid, before
 * this returns or throws.
 */
import type { ChildGroup, ChildHandle } from '../support/child-group.js';
import type { Metrics } from '../support/child-messages.js';
import type { ThroughputWindow } from '../transport/throughput-meter.js';
import { combineSubscribers } from './phases.js';
import type { PhaseSpec, RunEnv, SystemSpec } from './systems.js';

const STARTUP_TIMEOUT_MS = 20_000;
/** Time a phase may take beyond its warm-up and window (drain, start of workers, late timers). */
const PHASE_SLACK_MS = 10_000;
const STOP_GRACE_MS = 3_000;

export interface RunSystemInput {
  readonly spec: SystemSpec;
  readonly phases: readonly PhaseSpec[];
  readonly env: RunEnv;
  readonly children: ChildGroup;
  readonly window: ThroughputWindow;
  readonly repetition: number;
  /** Pin the two processes of a two-process system to CPUs 1 and 0. */
  readonly pin: boolean;
}

export interface SystemRun {
  /** Per phase key: the result (combined over subscribers for fan-out). */
  readonly phases: Record<string, Metrics>;
  /** What each child reported when ready and when stopped, by child name. */
  readonly children: Record<string, Metrics>;
}

function race<T>(wait: Promise<T>, started: readonly ChildHandle[]): Promise<T> {
  return Promise.race([wait, ...started.map((child) => child.failure)]);
}

export async function runSystem(input: RunSystemInput): Promise<SystemRun> {
  const { spec, phases, env, children, window } = input;
  const plans = await spec.plan(env);
  const phaseTimeoutMs = window.warmupMs + window.measureMs + PHASE_SLACK_MS;
  const lifetimeMs = STARTUP_TIMEOUT_MS * plans.length + phases.length * phaseTimeoutMs + STOP_GRACE_MS;
  const started: ChildHandle[] = [];
  const readies: Metrics[] = [];
  const drivers: ChildHandle[] = [];
  const measurers: ChildHandle[] = [];
  try {
    for (const [index, plan] of plans.entries()) {
      const cpu = input.pin && plans.length === 2 ? 1 - index : undefined;
      const config = { ...plan.config(readies), ...window, lifetimeMs };
      const child = children.start(`${spec.scenario}-${spec.id}-${plan.name}-rep${input.repetition}`, plan.role, config, cpu);
      started.push(child);
      readies.push(await race(child.next('ready', STARTUP_TIMEOUT_MS), started));
      if (plan.driver === true) drivers.push(child);
      if (plan.measures === true) measurers.push(child);
    }
    const results: Record<string, Metrics> = {};
    for (const [index, phase] of phases.entries()) {
      const command = { phase: index, length: phase.length, inFlight: phase.inFlight };
      for (const driver of drivers) driver.send({ type: 'command', data: command });
      const phaseResults = await race(Promise.all(measurers.map((child) => child.next('result', phaseTimeoutMs))), started);
      for (const result of phaseResults) {
        if (result.phase !== index) throw new Error(`${spec.id}: expected a result of phase ${index}, got ${String(result.phase)}`);
      }
      results[phase.key] = phaseResults.length === 1 ? phaseResults[0]! : { ...combineSubscribers(phaseResults), phase: index };
    }
    const finals = await children.stop(started, STOP_GRACE_MS);
    const byChild: Record<string, Metrics> = {};
    plans.forEach((plan, i) => (byChild[plan.name] = { ...readies[i], ...(finals[i] ?? {}) }));
    return { phases: results, children: byChild };
  } finally {
    await children.stop(started, STOP_GRACE_MS);
  }
}
