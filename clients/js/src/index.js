export { Client, defaultSocketPath, TERMINAL_STATUSES, isTerminal } from './client.js';
export { Subscription } from './subscription.js';
export { Worker } from './worker.js';
export { serveWorker } from './persistent.js';
export { RpcPeer } from './rpc.js';
export { FrameDecoder, encode } from './framing.js';
export * from './errors.js';
