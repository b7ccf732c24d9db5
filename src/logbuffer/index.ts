/** Log buffers: layout, appending, reading, reassembly, sender scanning and receiver rebuilding. */
export * from './frame-descriptor.js';
export * from './copy-bytes.js';
export * from './log-buffer-descriptor.js';
export * from './log-meta-data.js';
export * from './log-buffers.js';
export * from './log-rotation.js';
export * from './controlled-poll-action.js';
export * from './header.js';
export * from './buffer-claim.js';
export * from './term-appender.js';
export * from './term-reader.js';
export * from './fragment-assembler.js';
export * from './term-scanner.js';
export * from './term-rebuilder.js';
export * from './term-gap-scanner.js';
export * from './term-gap-filler.js';
export * from './term-unblocker.js';
