/** The control block shared between the worker_threads peer and its sending worker (Int32 indexes). */
export const CONTROL = { phase: 0, length: 1, receivedPhase: 2, received: 3, stop: 4, size: 5 } as const;

export interface PostWorkerData {
  readonly mode: 'send' | 'echo';
  readonly control?: SharedArrayBuffer;
}
