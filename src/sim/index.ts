/** Deterministic simulation: clock, network, in-memory storage, the world that steps agents, and the linearizability checker. */
export * from './sim-clock.js';
export * from './sim-network.js';
export * from './memory-storage.js';
export * from './sim-world.js';
export * from './linearizability.js';
