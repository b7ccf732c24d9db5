/**
 * The demo service `skein rpc serve` runs and `skein rpc call` calls: an echo, a small key-value
 * store held by each provider (not shared between providers), a stream of its keys, a sleep that
 * honours deadlines and cancellation, and a oneway log line.
 */
import type { Timers } from '../env/timers.js';
import { RpcError } from './rpc-status.js';
import { defineService, oneway, serverStream, unary, type CallContext, type ServiceImplementation, type StreamSink } from './service.js';

export const DemoService = defineService('demo', {
  echo: unary<{ text: string }, { text: string; provider: string }>({ idempotent: true }),
  get: unary<{ key: string }, { key: string; value: string | null; provider: string }>({ idempotent: true }),
  put: unary<{ key: string; value: string }, { key: string; previous: string | null; provider: string }>(),
  delete: unary<{ key: string }, { key: string; deleted: boolean }>({ idempotent: true }),
  keys: serverStream<{ prefix?: string }, { key: string; value: string }>(),
  sleep: unary<{ ms: number }, { sleptMs: number }>({ idempotent: true, defaultTimeoutMs: 60_000 }),
  log: oneway<{ line: string }>(),
});

export type DemoMethods = typeof DemoService.methods;

/** The demo implementation; `provider` names this provider in answers; `timers` runs the sleep. */
export function demoImplementation(
  provider: string,
  timers: Timers,
  onLog: (line: string) => void = () => {},
  /** Every echo and get waits this long first (a slow provider), stopping early when the call ends. */
  delayMs = 0,
): ServiceImplementation<DemoMethods> {
  const store = new Map<string, string>();
  const delay = (ctx: CallContext): Promise<void> | null =>
    delayMs <= 0
      ? null
      : new Promise<void>((resolve, reject) => {
          const handle = timers.scheduleTimeout(resolve, delayMs);
          ctx.signal.addEventListener('abort', () => {
            timers.cancelTimeout(handle);
            reject(ctx.signal.reason);
          }, { once: true });
        });
  return {
    echo: (req: { text: string }, ctx: CallContext) => {
      const answer = { text: String(req.text), provider };
      const wait = delay(ctx);
      return wait === null ? answer : wait.then(() => answer);
    },
    get: (req: { key: string }, ctx: CallContext) => {
      const wait = delay(ctx);
      const answer = () => ({ key: req.key, value: store.get(req.key) ?? null, provider });
      return wait === null ? answer() : wait.then(answer);
    },
    put: (req: { key: string; value: string }) => {
      if (typeof req.key !== 'string' || typeof req.value !== 'string') throw new RpcError('INVALID_ARGUMENT', 'put needs a string key and a string value');
      const previous = store.get(req.key) ?? null;
      store.set(req.key, req.value);
      return { key: req.key, previous, provider };
    },
    delete: (req: { key: string }) => ({ key: req.key, deleted: store.delete(req.key) }),
    keys: async (req: { prefix?: string }, sink: StreamSink<{ key: string; value: string }>, ctx: CallContext) => {
      for (const [key, value] of [...store.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
        if (ctx.signal.aborted) return;
        if (req.prefix === undefined || key.startsWith(req.prefix)) await sink.send({ key, value });
      }
    },
    sleep: (req: { ms: number }, ctx: CallContext) =>
      new Promise<{ sleptMs: number }>((resolve, reject) => {
        const handle = timers.scheduleTimeout(() => resolve({ sleptMs: req.ms }), req.ms);
        ctx.signal.addEventListener('abort', () => {
          timers.cancelTimeout(handle);
          reject(ctx.signal.reason);
        }, { once: true });
      }),
    log: (req: { line: string }) => onLog(String(req.line)),
  };
}
