/** Deterministic simulation: clock, network, in-memory storage and the world that steps agents. */
export * from './sim-clock.js';
export * from './sim-network.js';
export * from './memory-storage.js';
export * from './sim-world.js';
