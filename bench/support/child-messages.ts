/**
 * Messages between the benchmark runner and its child processes (over the IPC channel that
 * `child_process.fork` opens). A child sends `ready` once set up, `result` when its measurement
 * window closes, `final` in answer to `stop` just before it exits, and `error` when it fails. The
 * runner may send `command` messages (e.g. "start the next phase") to roles that take them.
 */
export type Metrics = Record<string, number | string | boolean | null>;

export type ChildMessage =
  | { readonly type: 'ready'; readonly data: Metrics }
  | { readonly type: 'result'; readonly data: Metrics }
  | { readonly type: 'final'; readonly data: Metrics }
  | { readonly type: 'error'; readonly message: string };

export type ParentMessage = { readonly type: 'stop' } | { readonly type: 'command'; readonly data: Metrics };

export type ChildMessageType = ChildMessage['type'];
