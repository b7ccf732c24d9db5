/** Agents and their runners, counters, the distinct error log and the published snapshot. */
export * from './agent.js';
export * from './agent-invoker.js';
export * from './agent-runner.js';
export * from './idle-strategy.js';
export * from './counters.js';
export * from './counter-types.js';
export * from './duty-cycle-tracker.js';
export * from './distinct-error-log.js';
export * from './snapshot.js';
