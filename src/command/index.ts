export * from './driver-messages.js';
export * from './message-queue.js';
export * from './driver-connection.js';
