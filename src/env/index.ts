/** Environment seams: clocks, randomness, timers, datagram transports, fault injection, storage. */
export * from './clock.js';
export * from './prng.js';
export * from './timers.js';
export * from './scheduler.js';
export * from './datagram.js';
export * from './node-datagram-transport.js';
export * from './fault-injection.js';
export * from './storage.js';
