/**
 * RPC calls end to end on real sockets (127.0.0.1): providers and a consumer on an embedded
 * Skein, a static registry. Unary, oneway and server-streaming calls; metadata both ways;
 * deadlines and cancellation reaching the provider's handler; the concurrency limit; a service
 * the provider does not serve; retries of idempotent methods onto another provider when one is
 * killed mid-call; graceful shutdown with a call in flight.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Skein } from '../../../src/skein.js';
import { RpcProvider } from '../../../src/rpc/rpc-provider.js';
import { RpcConsumer } from '../../../src/rpc/rpc-consumer.js';
import { StaticRegistry } from '../../../src/rpc/registry.js';
import { defineService, oneway, serverStream, unary } from '../../../src/rpc/service.js';
import { jsonCodec, rawCodec } from '../../../src/rpc/codec.js';
import { RpcError } from '../../../src/rpc/rpc-status.js';
import { freeUdpPortPair, waitFor } from '../../support/wait.js';
import { FrameReader, FrameType, encodeFrame } from '../../../src/rpc/rpc-frames.js';
import { RPC_DEFAULTS, isLoopbackHost } from '../../../src/rpc/rpc-defaults.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';

const Demo = defineService('demo', {
  echo: unary<{ text: string }, { text: string; attempt: number; who: string }>({ idempotent: true }),
  echoJson: unary<{ n: number }, { n: number }>({ requestCodec: jsonCodec(), responseCodec: jsonCodec() }),
  echoRaw: unary<Uint8Array, Uint8Array>({ requestCodec: rawCodec, responseCodec: rawCodec }),
  slow: unary<{ ms: number }, { done: boolean }>(),
  slowIdempotent: unary<{ ms: number }, { who: string }>({ idempotent: true, retry: { maxAttempts: 3, initialBackoffMs: 10 } }),
  single: unary<{ ms: number }, { ok: boolean }>({ maxConcurrent: 1 }),
  fail: unary<{ status: 'NOT_FOUND' | 'INTERNAL' }, never>(),
  count: serverStream<{ n: number }, { i: number }>(),
  note: oneway<{ line: string }>(),
});

interface Seen {
  notes: string[];
  aborted: { method: string; reason: string; afterMs: number }[];
  metadata: Record<string, string>[];
}

function implementation(who: string, seen: Seen) {
  const sleep = (ms: number, signal: AbortSignal, method: string) =>
    new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const timer = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        seen.aborted.push({ method, reason: String((signal.reason as Error)?.message ?? signal.reason), afterMs: Date.now() - started });
        reject(signal.reason);
      }, { once: true });
    });
  return {
    echo: (req: { text: string }, ctx: import('../../../src/rpc/service.js').CallContext) => {
      seen.metadata.push({ ...ctx.metadata });
      ctx.setTrailer('served-by', who);
      return { text: req.text, attempt: ctx.attempt, who };
    },
    echoJson: (req: { n: number }) => ({ n: req.n * 2 }),
    echoRaw: (req: Uint8Array) => req.slice().reverse(),
    slow: async (req: { ms: number }, ctx: import('../../../src/rpc/service.js').CallContext) => {
      await sleep(req.ms, ctx.signal, 'slow');
      return { done: true };
    },
    slowIdempotent: async (req: { ms: number }, ctx: import('../../../src/rpc/service.js').CallContext) => {
      await sleep(req.ms, ctx.signal, 'slowIdempotent');
      return { who };
    },
    single: async (req: { ms: number }, ctx: import('../../../src/rpc/service.js').CallContext) => {
      await sleep(req.ms, ctx.signal, 'single');
      return { ok: true };
    },
    fail: (req: { status: 'NOT_FOUND' | 'INTERNAL' }): never => {
      throw req.status === 'NOT_FOUND' ? new RpcError('NOT_FOUND', 'no such key') : new Error('handler blew up');
    },
    count: async (req: { n: number }, sink: import('../../../src/rpc/service.js').StreamSink<{ i: number }>, ctx: import('../../../src/rpc/service.js').CallContext) => {
      for (let i = 0; i < req.n && !ctx.signal.aborted; i++) await sink.send({ i });
    },
    note: (req: { line: string }) => void seen.notes.push(req.line),
  };
}

async function startProvider(skein: Skein, registry: StaticRegistry, who: string, seen: Seen, extra: { drainTimeoutMs?: number; onError?: (error: unknown) => void } = {}) {
  const port = await freeUdpPortPair();
  return RpcProvider.start(skein.client, { service: Demo, implementation: implementation(who, seen), address: `127.0.0.1:${port}`, registry, incarnation: who, ...extra });
}

/** The error a call failed with; fails the test when it succeeded. */
async function failure(call: Promise<unknown>): Promise<RpcError> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof RpcError, `an RpcError: ${String(error)}`);
    return error;
  }
  assert.fail('the call succeeded');
}

function newSeen(): Seen {
  return { notes: [], aborted: [], metadata: [] };
}

test('unary, oneway and streaming calls with metadata both ways and three codecs', { timeout: 30_000 }, async () => {
  const skein = Skein.launch({ testProfile: true, seed: 301 });
  const registry = new StaticRegistry();
  const seen = newSeen();
  const provider = await startProvider(skein, registry, 'p1', seen);
  const consumer = RpcConsumer.create(skein.client, Demo, { registry, seed: 1 });
  try {
    const answer = await consumer.stub.echo({ text: 'hello' }, { metadata: { 'x-request-id': 'r-1' }, timeoutMs: 5000 });
    assert.deepEqual(answer, { text: 'hello', attempt: 1, who: 'p1' });
    assert.deepEqual(seen.metadata[0], { 'x-request-id': 'r-1' });
    assert.deepEqual(await consumer.stub.echoJson({ n: 21 }), { n: 42 });
    assert.deepEqual(await consumer.stub.echoRaw(new Uint8Array([1, 2, 3])), new Uint8Array([3, 2, 1]));
    // A request larger than the link's largest message is refused before it is sent, naming the sizes.
    const tooLong = await failure(consumer.stub.echoRaw(new Uint8Array(4 * 1024 * 1024)));
    assert.equal(tooLong.code, 'ERR_SKEIN_RPC_INVALID_ARGUMENT');
    assert.match(tooLong.message, /RPC frame of \d+ bytes exceeds the link's largest message, \d+ bytes/);
    assert.equal(consumer.providers()[0]!.active, 0, 'nothing counted against the provider');
    assert.deepEqual(await consumer.stub.echoRaw(new Uint8Array([4, 5])), new Uint8Array([5, 4]), 'the consumer goes on');
    await consumer.stub.note({ line: 'one-way' });
    await waitFor(() => seen.notes.length === 1, 5000, 'the oneway call to run');
    assert.deepEqual(seen.notes, ['one-way']);
    const got: number[] = [];
    for await (const item of consumer.stub.count({ n: 500 })) got.push(item.i);
    assert.deepEqual(got, Array.from({ length: 500 }, (_, i) => i), 'every stream message, in order, past the credit window');
    const first: number[] = [];
    for await (const item of consumer.stub.count({ n: 1_000_000 }, { timeoutMs: 10_000 })) {
      first.push(item.i);
      if (first.length === 10) break;
    }
    assert.deepEqual(first, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await waitFor(() => provider.inFlight === 0, 5000, 'the abandoned stream to be cancelled on the provider');
    const notFound = await failure(consumer.stub.fail({ status: 'NOT_FOUND' }));
    assert.ok(notFound instanceof RpcError);
    assert.equal(notFound.code, 'ERR_SKEIN_RPC_NOT_FOUND');
    assert.match(notFound.message, /NOT_FOUND: no such key \(service=demo method=fail provider=127\.0\.0\.1:\d+ callId=\d+ attempt=1/);
    const unknown = await failure(consumer.stub.fail({ status: 'INTERNAL' }));
    assert.equal(unknown.code, 'ERR_SKEIN_RPC_UNKNOWN');
    assert.match(unknown.message, /demo\.fail failed: handler blew up/);
    assert.equal(consumer.state, 'READY');
    assert.equal(consumer.providers()[0]!.state, 'READY');
    // The same picture in the driver's counters, which `skein stat` shows.
    const counters = new Map<string, number>();
    skein.driver.counters.forEach((_id, _typeId, value, label) => counters.set(label, value));
    assert.equal(counters.get('rpc consumer demo: providers READY'), 1);
    assert.equal(counters.get('rpc consumer demo: providers BACKOFF'), 0);
    assert.equal(counters.get(`rpc consumer demo: provider ${provider.address}#p1 state`), 2, 'each provider has its own counter: 2 is READY');
    assert.equal(counters.get('rpc consumer demo: calls ok'), consumer.stats.ok);
    assert.equal(counters.get('rpc consumer demo: calls failed'), 4, 'three failed calls and the stream given up');
  } finally {
    consumer.close();
    await provider.close();
    await skein.close();
  }
});

test('deadlines and cancellation reach the provider: its handler sees its signal abort', { timeout: 30_000 }, async () => {
  const skein = Skein.launch({ testProfile: true, seed: 302 });
  const registry = new StaticRegistry();
  const seen = newSeen();
  const provider = await startProvider(skein, registry, 'p1', seen);
  const consumer = RpcConsumer.create(skein.client, Demo, { registry, seed: 2 });
  try {
    await consumer.stub.echo({ text: 'warm' });
    const started = Date.now();
    const late = await failure(consumer.stub.slow({ ms: 5000 }, { timeoutMs: 300 }));
    const tookMs = Date.now() - started;
    assert.equal(late.code, 'ERR_SKEIN_RPC_DEADLINE_EXCEEDED');
    assert.ok(tookMs >= 290 && tookMs < 2000, `failed after ${tookMs} ms`);
    await waitFor(() => seen.aborted.length === 1, 5000, 'the provider to abort the handler');
    assert.equal(seen.aborted[0]!.method, 'slow');
    assert.ok(seen.aborted[0]!.afterMs < 1500, `the handler was stopped after ${seen.aborted[0]!.afterMs} ms`);
    const controller = new AbortController();
    const pending = consumer.stub.slow({ ms: 5000 }, { signal: controller.signal, timeoutMs: 10_000 });
    setTimeout(() => controller.abort(new Error('user gave up')), 100);
    const cancelled = await failure(pending);
    assert.equal(cancelled.code, 'ERR_SKEIN_RPC_CANCELLED');
    assert.match(cancelled.message, /user gave up/);
    await waitFor(() => seen.aborted.length === 2, 5000, 'the cancel to reach the provider');
    assert.match(seen.aborted[1]!.reason, /cancelled by the consumer/);
    assert.equal(provider.inFlight, 0);
  } finally {
    consumer.close();
    await provider.close();
    await skein.close();
  }
});

test('many calls in flight ending in any order: each by its own deadline or answer on both sides, the rest cancelled by close', { timeout: 30_000 }, async () => {
  const skein = Skein.launch({ testProfile: true, seed: 306 });
  const registry = new StaticRegistry();
  const seen = newSeen();
  const provider = await startProvider(skein, registry, 'p1', seen);
  const consumer = RpcConsumer.create(skein.client, Demo, { registry, seed: 6 });
  try {
    await consumer.stub.echo({ text: 'warm' });
    // Slow calls whose deadlines pass in an order unlike the order they were made in, many in the
    // same millisecond, between quick calls that are answered.
    const deadlines = Array.from({ length: 60 }, (_, i) => 100 + ((i * 37) % 20) * 10);
    const started = performance.now();
    const slow = deadlines.map((timeoutMs) => failure(consumer.stub.slow({ ms: 20_000 }, { timeoutMs })).then((error) => ({ error, afterMs: performance.now() - started })));
    const quick = Array.from({ length: 60 }, (_, i) => consumer.stub.echo({ text: `q${i}` }, { timeoutMs: 10_000 }));
    assert.deepEqual((await Promise.all(quick)).map((a) => a.text), Array.from({ length: 60 }, (_, i) => `q${i}`));
    const ended = await Promise.all(slow);
    assert.deepEqual([...new Set(ended.map((e) => e.error.code))], ['ERR_SKEIN_RPC_DEADLINE_EXCEEDED']);
    // Each by its own deadline, never before it (the consumer's or, when its END comes first, the provider's).
    ended.forEach(({ error, afterMs }, i) => {
      assert.ok(afterMs >= deadlines[i]! - 1, `call ${i} (deadline ${deadlines[i]} ms) ended after ${afterMs.toFixed(1)} ms`);
      assert.match(error.message, new RegExp(`no answer within ${deadlines[i]} ms|deadline passed`));
    });
    await waitFor(() => seen.aborted.length === 60 && provider.inFlight === 0, 5000, 'the provider to abort every slow handler');
    assert.equal(consumer.providers()[0]!.active, 0);
    assert.equal(consumer.inFlight, 0, 'every ended call has left the consumer');
    // Calls still in flight when the consumer closes end CANCELLED, and the provider hears of it.
    const open = Array.from({ length: 20 }, () => failure(consumer.stub.slow({ ms: 20_000 }, { timeoutMs: 10_000 })));
    assert.equal(consumer.inFlight, 20);
    await waitFor(() => provider.inFlight === 20, 5000, 'twenty calls running on the provider');
    consumer.close();
    assert.deepEqual([...new Set((await Promise.all(open)).map((e) => e.code))], ['ERR_SKEIN_RPC_CANCELLED']);
    assert.equal(consumer.inFlight, 0);
    await waitFor(() => provider.inFlight === 0, 5000, 'the provider to drop the closed consumer\'s calls');
  } finally {
    consumer.close();
    await provider.close();
    await skein.close();
  }
});

test('a CALL with a negative call id is dropped and named; the provider goes on serving the same link', { timeout: 30_000 }, async () => {
  const skein = Skein.launch({ testProfile: true, seed: 307 });
  const errors: unknown[] = [];
  const provider = await startProvider(skein, new StaticRegistry(), 'p1', newSeen(), { onError: (error) => errors.push(error) });
  try {
    // A hand-made link, as RpcLink opens one: responses through the provider's response control port.
    const port = Number(provider.address.split(':')[1]);
    const responses = await skein.addSubscription(`aeron:udp?control=127.0.0.1:${port + 1}|control-mode=response`, RPC_DEFAULTS.responseStreamId);
    const requests = await skein.addExclusivePublication(`aeron:udp?endpoint=127.0.0.1:${port}|response-correlation-id=${responses.registrationId}`, RPC_DEFAULTS.requestStreamId);
    await waitFor(() => requests.isConnected, 5000, 'the request publication to connect');
    const frames: { type: number; callId: number; arg: number; payload: Uint8Array }[] = [];
    const reader = new FrameReader();
    responses.onFragment((buffer, offset, length) => {
      const r = reader.wrap(buffer, offset, length);
      frames.push({ type: r.type, callId: r.callId, arg: r.arg, payload: r.payload() });
    });
    const send = (fields: Parameters<typeof encodeFrame>[2], payload?: Uint8Array): void => {
      const buffer = new Uint8Array(256);
      const length = encodeFrame(buffer, 0, fields, payload);
      assert.ok(requests.offer(buffer, 0, length) > 0, `frame type ${fields.type} offered`);
    };
    send({ type: FrameType.HELLO, callId: 0, name: 'demo' });
    await waitFor(() => frames.some((f) => f.type === FrameType.HELLO_ACK), 5000, 'HELLO_ACK');
    const request = new TextEncoder().encode(JSON.stringify({ n: 2 }));
    send({ type: FrameType.CALL, callId: -7, arg: 5000, name: 'echoJson' }, request);
    send({ type: FrameType.CALL, callId: 5, arg: 5000, name: 'echoJson' }, request);
    await waitFor(() => frames.some((f) => f.type === FrameType.END && f.callId === 5), 5000, 'the answer to call 5');
    const end = frames.find((f) => f.type === FrameType.END && f.callId === 5)!;
    assert.equal(end.arg, 0, 'status OK');
    assert.deepEqual(JSON.parse(new TextDecoder().decode(end.payload)), { n: 4 });
    assert.equal(frames.filter((f) => f.type === FrameType.END).length, 1, 'nothing answers the negative id');
    assert.equal(provider.stats.droppedFrames, 1);
    assert.equal(provider.stats.calls, 1);
    assert.ok(errors.some((e) => e instanceof SkeinError && e.code === ErrorCode.PROTOCOL_INVALID && /CALL with call id -7 .* dropped/.test(e.message)), String(errors));
    responses.close();
    requests.close();
  } finally {
    await provider.close();
    await skein.close();
  }
});

test('a provider holds its response control address from the start: one whose address is taken is refused naming it, and a provider cannot take another\'s', { timeout: 30_000 }, async () => {
  const skein = Skein.launch({ testProfile: true, seed: 308 });
  const registry = new StaticRegistry();
  const port = await freeUdpPortPair();
  const start = (at: number, who: string) =>
    RpcProvider.start(skein.client, { service: Demo, implementation: implementation(who, newSeen()), address: `127.0.0.1:${at}`, registry, incarnation: who });
  try {
    // B serves on port + 1, which A would answer from: A is refused at start, naming the address.
    const before = skein.driver.conductor.resourceCounts();
    const b = await start(port + 1, 'b');
    await assert.rejects(start(port, 'a'), (e: SkeinError) => e.code === ErrorCode.TRANSPORT_BIND_FAILED && e.message.includes(`response control address 127.0.0.1:${port + 1}`) && /EADDRINUSE/.test(e.message));
    assert.deepEqual(registry.snapshot('demo')!.providers.map((p) => p.incarnation), ['b'], 'the refused provider is not registered');
    await b.close();
    await waitFor(() => {
      const counts = skein.driver.conductor.resourceCounts();
      return counts.receiveEndpoints === before.receiveEndpoints && counts.sendEndpoints === before.sendEndpoints;
    }, 10_000, 'the sockets of B and of the refused A to be released');
    // The other way round: A holds port + 1 before any consumer comes, so B cannot serve there.
    const a = await start(port, 'a');
    await assert.rejects(start(port + 1, 'b'), (e: SkeinError) => e.code === ErrorCode.TRANSPORT_BIND_FAILED && /EADDRINUSE/.test(e.message));
    const consumer = RpcConsumer.create(skein.client, Demo, { registry, seed: 8 });
    try {
      assert.equal((await consumer.stub.echo({ text: 'hi' }, { timeoutMs: 5000 })).who, 'a');
    } finally {
      consumer.close();
      await a.close();
    }
  } finally {
    await skein.close();
  }
});

test('two providers of one process cannot serve one address: the second is refused naming the first, whether it shares the request address or only the response control address; a restart on the address works at once', { timeout: 30_000 }, async () => {
  const skein = Skein.launch({ testProfile: true, seed: 309 });
  const registry = new StaticRegistry();
  const port = await freeUdpPortPair();
  const other = await freeUdpPortPair();
  const start = (who: string, address: string, responseControl?: string) =>
    RpcProvider.start(skein.client, { service: Demo, implementation: implementation(who, newSeen()), address, registry, incarnation: who, ...(responseControl === undefined ? {} : { responseControl }) });
  try {
    const a = await start('a', `127.0.0.1:${port}`);
    // Same driver, same request endpoint: the subscription would share A's socket and A's consumers.
    await assert.rejects(start('b', `127.0.0.1:${port}`), (e: SkeinError) => e.code === ErrorCode.TRANSPORT_BIND_FAILED && e.message.includes(`already served by provider 127.0.0.1:${port} of demo (incarnation a)`));
    // Another request address, but A's response control address: refused by the driver.
    await assert.rejects(start('c', `127.0.0.1:${other}`, `127.0.0.1:${port + 1}`), (e: SkeinError) => e.code === ErrorCode.TRANSPORT_BIND_FAILED && e.message.includes(`response control address 127.0.0.1:${port + 1} is already held by another response server or RPC provider of this driver`));
    assert.deepEqual(registry.snapshot('demo')!.providers.map((p) => p.incarnation), ['a'], 'the refused providers are not registered');
    // A restarts on its address at once (closed, then started again with a new incarnation).
    a.closeNow();
    const a2 = await start('a2', `127.0.0.1:${port}`);
    const consumer = RpcConsumer.create(skein.client, Demo, { registry, seed: 9 });
    try {
      await waitFor(() => consumer.providers().some((p) => p.incarnation === 'a2' && p.state === 'READY'), 10_000, 'the restarted provider READY');
      assert.equal((await consumer.stub.echo({ text: 'hi' }, { timeoutMs: 5000 })).who, 'a2');
    } finally {
      consumer.close();
      await a2.close();
    }
  } finally {
    await skein.close();
  }
});

test('a method at its concurrency limit is refused with RESOURCE_EXHAUSTED before its handler runs', { timeout: 30_000 }, async () => {
  const skein = Skein.launch({ testProfile: true, seed: 303 });
  const registry = new StaticRegistry();
  const seen = newSeen();
  const provider = await startProvider(skein, registry, 'p1', seen);
  const consumer = RpcConsumer.create(skein.client, Demo, { registry, seed: 3 });
  try {
    await consumer.stub.echo({ text: 'warm' });
    const first = consumer.stub.single({ ms: 500 });
    const second = await failure(consumer.stub.single({ ms: 10 }));
    assert.equal(second.code, 'ERR_SKEIN_RPC_RESOURCE_EXHAUSTED');
    assert.match(second.message, /demo\.single runs 1 calls, its maxConcurrent=1; the call did not run/);
    assert.deepEqual(await first, { ok: true });
    assert.equal(provider.stats.refusedBusy >= 1, true);
  } finally {
    consumer.close();
    await provider.close();
    await skein.close();
  }
});

test('with no provider ready a call waits up to its deadline and fails UNAVAILABLE saying why; a provider of another service is refused', { timeout: 30_000 }, async () => {
  const skein = Skein.launch({ testProfile: true, seed: 304 });
  const registry = new StaticRegistry();
  const Other = defineService('other', { ping: unary<null, null>() });
  const port = await freeUdpPortPair();
  const other = await RpcProvider.start(skein.client, { service: Other, implementation: { ping: () => null }, address: `127.0.0.1:${port}` });
  registry.set('demo', [{ address: `127.0.0.1:${port}`, incarnation: '' }]);
  const consumer = RpcConsumer.create(skein.client, Demo, { registry, seed: 4, holder: { backoffInitialMs: 50 } });
  try {
    const started = Date.now();
    const error = await failure(consumer.stub.echo({ text: 'x' }, { timeoutMs: 800 }));
    assert.equal(error.code, 'ERR_SKEIN_RPC_UNAVAILABLE');
    assert.ok(Date.now() - started >= 790, 'it waited for the deadline');
    assert.match(error.message, /no provider ready within the deadline: demo: snapshot version 1 lists 1; providers (BACKOFF|CONNECTING)=1/);
    const transitions = consumer.providers();
    assert.match(transitions[0]!.reason, /refused the link: service 'demo' is not served here \(this is other\)|connect failed/);
    const fast = RpcConsumer.create(skein.client, Demo, { registry, seed: 5, waitForReady: false });
    const at = Date.now();
    const now = await failure(fast.stub.echo({ text: 'x' }));
    assert.equal(now.code, 'ERR_SKEIN_RPC_UNAVAILABLE');
    assert.ok(Date.now() - at < 200, 'waitForReady false fails at once');
    fast.close();
  } finally {
    consumer.close();
    await other.close();
    await skein.close();
  }
});

test('an idempotent call in flight on a provider that dies is retried on another; a graceful shutdown lets its call finish', { timeout: 30_000 }, async () => {
  const skein = Skein.launch({ testProfile: true, seed: 305 });
  const registry = new StaticRegistry();
  const seen = newSeen();
  const p1 = await startProvider(skein, registry, 'p1', seen);
  const p2 = await startProvider(skein, registry, 'p2', seen, { drainTimeoutMs: 3000 });
  const consumer = RpcConsumer.create(skein.client, Demo, { registry, seed: 6, balancer: 'round-robin', link: { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 500 } });
  try {
    await waitFor(() => consumer.providers().filter((p) => p.state === 'READY').length === 2, 5000, 'both providers READY');
    // Kill whichever provider takes the call: the call is retried on the other.
    const pending = consumer.stub.slowIdempotent({ ms: 300 }, { timeoutMs: 5000 });
    await waitFor(() => p1.inFlight + p2.inFlight === 1, 2000, 'the call to arrive');
    const victim = p1.inFlight === 1 ? p1 : p2;
    const survivor = victim === p1 ? 'p2' : 'p1';
    victim.closeNow();
    const answer = await pending;
    assert.equal(answer.who, survivor, 'answered by the other provider');
    assert.ok(consumer.stats.retries >= 1);
    const rest = victim === p1 ? p2 : p1;
    // Graceful shutdown with a call in flight: it finishes; the provider deregisters first.
    await waitFor(() => consumer.providers().some((p) => p.state === 'READY'), 5000, 'a READY provider');
    const inFlight = consumer.stub.slow({ ms: 300 }, { timeoutMs: 5000 });
    await waitFor(() => rest.inFlight === 1, 2000, 'the call to arrive');
    const closing = rest.close();
    assert.equal(registry.snapshot('demo')!.providers.some((p) => p.incarnation === survivor), false, 'deregistered first');
    assert.deepEqual(await inFlight, { done: true });
    await closing;
    assert.equal(rest.state, 'CLOSED');
  } finally {
    consumer.close();
    p1.closeNow();
    p2.closeNow();
    await skein.close();
  }
});

test('links between loopback addresses use the loopback MTU both ways unless told otherwise; a bad mtu option is refused naming it', { timeout: 30_000 }, async () => {
  assert.deepEqual(
    ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1', 'localhost', '10.0.0.1', '::', '0.0.0.0', '128.0.0.1'].map(isLoopbackHost),
    [true, true, true, true, true, true, false, false, false, false],
  );
  const skein = Skein.launch({ testProfile: true, seed: 305 });
  const linkChannels = (): string[] => {
    const labels: string[] = [];
    skein.driver.counters.forEach((_id, _typeId, _value, label) => {
      // Not the provider's reservation of its response control address (correlation id 'prototype').
      if (label.startsWith('snd-pos:') && / (1101|1102|1111|1112) /.test(label) && !label.includes('=prototype')) labels.push(label);
    });
    return labels;
  };
  const registry = new StaticRegistry();
  const seen = newSeen();
  const provider = await startProvider(skein, registry, 'p1', seen);
  const consumer = RpcConsumer.create(skein.client, Demo, { registry, seed: 1 });
  const port = await freeUdpPortPair();
  const narrow = await RpcProvider.start(skein.client, {
    service: Demo, implementation: implementation('p2', seen), address: `127.0.0.1:${port}`, incarnation: 'p2', mtu: 1408, requestStreamId: 1111, responseStreamId: 1112,
  });
  const narrowConsumer = RpcConsumer.create(skein.client, Demo, { registry: new StaticRegistry({ demo: [`127.0.0.1:${port}`] }), seed: 2, link: { mtu: 1408, requestStreamId: 1111, responseStreamId: 1112 } });
  try {
    assert.deepEqual(await consumer.stub.echoRaw(new Uint8Array(5000).fill(7)), new Uint8Array(5000).fill(7));
    assert.deepEqual(await narrowConsumer.stub.echoRaw(new Uint8Array(5000).fill(9)), new Uint8Array(5000).fill(9));
    const labels = linkChannels();
    const of = (streamId: number) => labels.filter((l) => l.includes(` ${streamId} `));
    assert.equal(of(1101).length, 1, labels.join('\n'));
    assert.match(of(1101)[0]!, /\|mtu=8192/, 'the request publication to a loopback provider');
    assert.equal(of(1102).length, 1, labels.join('\n'));
    assert.match(of(1102)[0]!, /\|mtu=8192/, 'the response publication to a loopback consumer');
    assert.match(of(1111)[0]!, /\|mtu=1408/, 'the consumer option');
    assert.match(of(1112)[0]!, /\|mtu=1408/, 'the provider option');
    assert.throws(
      () => RpcConsumer.create(skein.client, Demo, { registry, link: { mtu: 1000 } }),
      (error: unknown) => error instanceof SkeinError && error.code === ErrorCode.CONFIG_INVALID && /RPC consumer of demo: mtu=1000 is invalid/.test(error.message),
    );
    await assert.rejects(
      RpcProvider.start(skein.client, { service: Demo, implementation: implementation('p3', seen), address: `127.0.0.1:${await freeUdpPortPair()}`, mtu: 70_000 }),
      (error: unknown) => error instanceof SkeinError && /provider 127\.0\.0\.1:\d+ of demo: mtu=70000 is invalid/.test(error.message),
    );
  } finally {
    narrowConsumer.close();
    consumer.close();
    await narrow.close();
    await provider.close();
    await skein.close();
  }
});
