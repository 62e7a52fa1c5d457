/** Wire protocol: ids, TRNs, discovery snapshots, command and event envelopes, run states. */
export * from './result.js';
export * from './ids.js';
export * from './time.js';
export * from './json.js';
export * from './trn.js';
export * from './discovery.js';
export * from './schemas.js';
export * from './command.js';
export * from './event.js';
export * from './run-state.js';
