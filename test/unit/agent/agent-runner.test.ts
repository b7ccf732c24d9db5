import { test } from 'node:test';
import { createSocket, type Socket } from 'node:dgram';
import assert from 'node:assert/strict';
import type { Agent } from '../../../src/agent/agent.js';
import { AgentRunner } from '../../../src/agent/agent-runner.js';
import { ADAPTIVE_SPIN_MISSES, ADAPTIVE_SPIN_PROBE_PERIODS, BackoffIdleStrategy } from '../../../src/agent/idle-strategy.js';
import { systemNanoClock, type NanoClock } from '../../../src/env/clock.js';
import type { TimerHandle, Timers } from '../../../src/env/timers.js';
import { AssertionFailure } from '../../../src/util/assert.js';
import { ErrorCode, SkeinError } from '../../../src/util/errors.js';

/** Timers under the test's control; records what the runner asked for. */
class FakeTimers implements Timers {
  private nextId = 1;
  immediates: Array<{ id: number; fn: () => void }> = [];
  timeouts: Array<{ id: number; fn: () => void; delayMs: number }> = [];
  microtasks: Array<() => void> = [];
  readonly requests: Array<number | 'immediate' | 'microtask'> = [];

  scheduleImmediate(fn: () => void): TimerHandle {
    const id = this.nextId++;
    this.immediates.push({ id, fn });
    this.requests.push('immediate');
    return id;
  }
  cancelImmediate(handle: TimerHandle): void {
    this.immediates = this.immediates.filter((i) => i.id !== handle);
  }
  scheduleTimeout(fn: () => void, delayMs: number): TimerHandle {
    const id = this.nextId++;
    this.timeouts.push({ id, fn, delayMs });
    this.requests.push(delayMs);
    return id;
  }
  cancelTimeout(handle: TimerHandle): void {
    this.timeouts = this.timeouts.filter((t) => t.id !== handle);
  }
  scheduleMicrotask(fn: () => void): void {
    this.microtasks.push(fn);
    this.requests.push('microtask');
  }
  get pending(): number {
    return this.immediates.length + this.timeouts.length + this.microtasks.length;
  }
  /** Runs whichever single callback is pending (the runner never has more than one). */
  fire(): void {
    assert.equal(this.pending, 1, 'exactly one pending callback');
    const next = this.microtasks.shift() ?? this.immediates.shift()?.fn ?? this.timeouts.shift()?.fn;
    next?.();
  }
}

const frozenClock: NanoClock = { nanoTime: () => 0 };

class ScriptedAgent implements Agent {
  readonly roleName = 'scripted';
  calls = 0;
  starts = 0;
  closes = 0;
  constructor(private readonly work: (call: number) => number) {}
  onStart(): void {
    this.starts++;
  }
  doWork(): number {
    return this.work(this.calls++);
  }
  onClose(): void {
    this.closes++;
  }
}

function newRunner(agent: Agent, timers: Timers, clock: NanoClock = frozenClock, errors: unknown[] = []): AgentRunner {
  return new AgentRunner(agent, { clock, timers, errorHandler: (e) => errors.push(e) });
}

test('runs cycles back to back while there is work, at most maxCyclesPerTurn per turn', () => {
  const timers = new FakeTimers();
  const agent = new ScriptedAgent((call) => (call < 100 ? 1 : 0));
  const runner = newRunner(agent, timers);
  runner.start();
  assert.equal(agent.starts, 1);
  assert.equal(runner.isRunning, true);
  timers.fire();
  assert.equal(agent.calls, 64);
  assert.deepEqual(timers.requests, ['immediate', 'immediate'], 'yields with setImmediate while busy');
  timers.fire();
  assert.equal(agent.calls, 101, '36 busy cycles, then one idle cycle ends the turn');
  assert.equal(runner.dutyCycles, 101);
  runner.close();
});

test('a turn stops after maxBatchNs even while there is work', () => {
  const timers = new FakeTimers();
  let now = 0;
  const clock: NanoClock = { nanoTime: () => (now += 300_000) };
  const agent = new ScriptedAgent(() => 1);
  const runner = newRunner(agent, timers, clock);
  runner.start();
  timers.fire();
  assert.ok(agent.calls >= 2 && agent.calls <= 4, `cycles in a 1 ms batch: ${agent.calls}`);
  runner.close();
});

test('backs off while idle: spins with setImmediate, then sleeps 1, 2, 4 … up to maxIdleMs', () => {
  const timers = new FakeTimers();
  const agent = new ScriptedAgent(() => 0);
  const runner = newRunner(agent, timers);
  runner.start();
  for (let i = 0; i < 16; i++) timers.fire();
  const expected: Array<number | 'immediate' | 'microtask'> = ['immediate', ...new Array<'immediate'>(10).fill('immediate'), 1, 2, 4, 8, 10, 10];
  assert.deepEqual(timers.requests, expected);
  assert.equal(agent.calls, 16);
  runner.close();
  assert.equal(timers.pending, 0);
});

test('wake() cuts a sleep short and restarts the back-off; work resets it too', () => {
  const timers = new FakeTimers();
  let busy = false;
  const agent = new ScriptedAgent(() => (busy ? 1 : 0));
  const runner = newRunner(agent, timers);
  runner.start();
  for (let i = 0; i < 14; i++) timers.fire();
  assert.equal(timers.timeouts.length, 1, 'sleeping on a timer');
  runner.wake();
  assert.equal(timers.timeouts.length, 0);
  assert.equal(timers.microtasks.length, 1, 'the next cycle runs in a microtask, not after another event-loop phase');
  assert.equal(agent.calls, 14, 'never inside wake() itself');
  runner.wake(); // waking twice changes nothing
  assert.equal(timers.pending, 1);
  timers.fire();
  assert.equal(agent.calls, 15);
  assert.equal(timers.immediates.length, 1, 'back-off restarted: spinning again');

  busy = true;
  timers.fire();
  busy = false;
  const before = timers.requests.length;
  for (let i = 0; i < 11; i++) timers.fire();
  assert.deepEqual(timers.requests.slice(before), [...new Array<'immediate'>(10).fill('immediate'), 1]);
  runner.close();
});

test('with idle.wakeInMicrotask false, wake() runs a sleeping runner on the next setImmediate; close() cancels it', () => {
  const timers = new FakeTimers();
  const agent = new ScriptedAgent(() => 0);
  const runner = new AgentRunner(agent, { clock: frozenClock, timers, errorHandler: () => undefined, idle: { wakeInMicrotask: false } });
  runner.start();
  for (let i = 0; i < 14; i++) timers.fire();
  assert.equal(timers.timeouts.length, 1, 'sleeping on a timer');
  runner.wake();
  assert.equal(timers.timeouts.length, 0);
  assert.equal(timers.microtasks.length, 0, 'no microtask');
  assert.equal(timers.immediates.length, 1, 'the next cycle waits for the next setImmediate');
  assert.equal(agent.calls, 14, 'never inside wake() itself');
  runner.wake(); // waking twice changes nothing
  assert.equal(timers.pending, 1);
  timers.fire();
  assert.equal(agent.calls, 15);
  for (let i = 0; i < 14; i++) timers.fire();
  runner.wake();
  runner.close();
  assert.equal(timers.pending, 0, 'close() cancelled the woken turn');
  assert.equal(agent.calls, 29);
});

test('wake() from inside doWork schedules the next cycle at once', () => {
  const timers = new FakeTimers();
  let runner: AgentRunner | undefined;
  const agent = new ScriptedAgent((call) => {
    if (call >= 20) runner?.wake(); // a message arrived while the agent was running
    return 0;
  });
  runner = newRunner(agent, timers);
  runner.start();
  for (let i = 0; i < 20; i++) timers.fire();
  assert.equal(timers.timeouts.length, 1);
  timers.fire();
  assert.equal(timers.immediates.length, 1);
  runner.close();
});

test('a wake-up that a later cycle of the same turn acted on asks for no further turn', () => {
  const timers = new FakeTimers();
  let runner: AgentRunner | undefined;
  // Cycle 0 sends something (a wake-up, as an offer makes) and finds work; cycle 1 finds none.
  const agent = new ScriptedAgent((call) => {
    if (call === 0) runner?.wake();
    return call === 0 ? 1 : 0;
  });
  runner = new AgentRunner(agent, { clock: frozenClock, timers, errorHandler: () => undefined, idle: { spinImmediates: 0 } });
  runner.start();
  timers.fire();
  assert.equal(agent.calls, 2);
  assert.deepEqual(timers.requests, ['immediate', 1], 'straight to the idle strategy (a 1 ms sleep), no extra setImmediate turn');
  runner.close();
});

test('a wake-up during the last cycle of a turn asks for another turn', () => {
  const timers = new FakeTimers();
  let runner: AgentRunner | undefined;
  const agent = new ScriptedAgent((call) => {
    if (call === 1) runner?.wake(); // e.g. an offer from a handler in a cycle that counted no work
    return call === 0 ? 1 : 0;
  });
  runner = new AgentRunner(agent, { clock: frozenClock, timers, errorHandler: () => undefined, idle: { spinImmediates: 0 } });
  runner.start();
  timers.fire();
  assert.equal(agent.calls, 2);
  assert.deepEqual(timers.requests, ['immediate', 'immediate']);
  timers.fire();
  assert.equal(agent.calls, 3);
  assert.deepEqual(timers.requests, ['immediate', 'immediate', 1]);
  runner.close();
});

test('close() after a wake-up from a sleep: the queued microtask runs no cycle', () => {
  const timers = new FakeTimers();
  const agent = new ScriptedAgent(() => 0);
  const runner = new AgentRunner(agent, { clock: frozenClock, timers, errorHandler: () => undefined, idle: { spinImmediates: 0 } });
  runner.start();
  timers.fire();
  assert.equal(timers.timeouts.length, 1);
  runner.wake();
  assert.equal(timers.microtasks.length, 1);
  runner.close();
  const microtask = timers.microtasks.shift();
  microtask?.();
  assert.equal(agent.calls, 1);
  assert.equal(timers.pending, 0);
});

test('adaptive spin: after spins in a row that the next request came long after, the runner sleeps at once; a probe that catches one turns it back on', () => {
  const timers = new FakeTimers();
  const US = 1000;
  let nowNs = 0;
  const clock: NanoClock = { nanoTime: () => nowNs };
  let workLeft = 0;
  const agent = new ScriptedAgent(() => (workLeft > 0 ? workLeft-- : 0));
  const runner = new AgentRunner(agent, { clock, timers, errorHandler: () => undefined, idle: { spinImmediates: 2, spinUs: 50 } });
  const asleep = (): boolean => timers.timeouts.length > 0;
  const idleUntilAsleep = (): void => {
    while (!asleep()) {
      nowNs += 10 * US;
      timers.fire();
    }
  };
  /** A request 10 ms after the last wakes the sleeping runner; one cycle works; then idle turns 10 µs apart. */
  const sparseRequest = (): Array<number | 'immediate' | 'microtask'> => {
    assert.ok(asleep(), 'asleep before the request');
    nowNs += 10_000 * US;
    const from = timers.requests.length;
    workLeft = 1;
    runner.wake();
    timers.fire();
    idleUntilAsleep();
    return timers.requests.slice(from);
  };
  const spinning = ['microtask', 'immediate', 'immediate', 'immediate', 'immediate', 'immediate', 1];
  runner.start();
  idleUntilAsleep();
  // The idle period after start spun in vain (the first request came 10 ms later): one miss.
  for (let i = 1; i < ADAPTIVE_SPIN_MISSES; i++) assert.deepEqual(sparseRequest(), spinning, `request ${i}: spins after work, 2 turns and 50 µs (5 turns of 10 µs)`);
  assert.deepEqual(sparseRequest(), ['microtask', 1], `${ADAPTIVE_SPIN_MISSES} spins in a row did not pay: sleeps at once`);
  let probe: number | null = null;
  for (let i = 0; i < 2 * ADAPTIVE_SPIN_PROBE_PERIODS && probe === null; i++) if (sparseRequest().length > 2) probe = i;
  assert.equal(probe, ADAPTIVE_SPIN_PROBE_PERIODS - 2, 'one idle period in 8 spins again (and this probe does not pay)');
  for (let i = 0; i < ADAPTIVE_SPIN_PROBE_PERIODS - 1; i++) assert.deepEqual(sparseRequest(), ['microtask', 1]);
  // The next idle period is a probe: this time work comes back 20 µs into it, while it spins.
  nowNs += 10_000 * US;
  workLeft = 1;
  runner.wake();
  timers.fire();
  assert.equal(timers.immediates.length, 1, 'the probe spins');
  nowNs += 20 * US;
  workLeft = 1;
  timers.fire();
  const from = timers.requests.length;
  idleUntilAsleep();
  assert.deepEqual(timers.requests.slice(from, from + 3), ['immediate', 'immediate', 'immediate'], 'the probe paid: spinning again');
  runner.close();
});

test('without adaptive spin the runner spins after every piece of work', () => {
  const timers = new FakeTimers();
  let nowNs = 0;
  const clock: NanoClock = { nanoTime: () => nowNs };
  let workLeft = 0;
  const agent = new ScriptedAgent(() => (workLeft > 0 ? workLeft-- : 0));
  const runner = new AgentRunner(agent, { clock, timers, errorHandler: () => undefined, idle: { spinImmediates: 0, spinUs: 50, adaptiveSpin: false } });
  runner.start();
  while (timers.timeouts.length === 0) timers.fire();
  for (let i = 0; i < 3; i++) {
    nowNs += 10_000_000;
    const from = timers.requests.length;
    workLeft = 1;
    runner.wake();
    timers.fire();
    while (timers.timeouts.length === 0) {
      nowNs += 10_000;
      timers.fire();
    }
    assert.deepEqual(timers.requests.slice(from), ['microtask', 'immediate', 'immediate', 'immediate', 'immediate', 'immediate', 1], `request ${i}`);
  }
  runner.close();
});

test('close() is idempotent, runs onClose once and cancels pending callbacks', () => {
  const timers = new FakeTimers();
  const agent = new ScriptedAgent(() => 0);
  const runner = newRunner(agent, timers);
  runner.start();
  runner.close();
  runner.close();
  assert.equal(agent.closes, 1);
  assert.equal(timers.pending, 0);
  assert.equal(runner.isRunning, false);
  assert.equal(runner.isClosed, true);
  runner.wake();
  assert.equal(timers.pending, 0, 'waking a closed runner does nothing');
  assert.throws(() => runner.start(), (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.CLOSED);
});

test('an agent may close its own runner from doWork', () => {
  const timers = new FakeTimers();
  let runner: AgentRunner | undefined;
  const agent = new ScriptedAgent(() => {
    runner?.close();
    return 1;
  });
  runner = newRunner(agent, timers);
  runner.start();
  timers.fire();
  assert.equal(agent.calls, 1);
  assert.equal(agent.closes, 1);
  assert.equal(timers.pending, 0);
});

test('an error in doWork reaches the handler and the runner keeps going', () => {
  const timers = new FakeTimers();
  const errors: unknown[] = [];
  const agent = new ScriptedAgent((call) => {
    if (call === 1) throw new SkeinError(ErrorCode.AGENT_ERROR, 'boom');
    return call < 5 ? 1 : 0;
  });
  const runner = newRunner(agent, timers, frozenClock, errors);
  runner.start();
  for (let i = 0; i < 5; i++) timers.fire();
  assert.equal(errors.length, 1);
  assert.match((errors[0] as Error).message, /boom/);
  assert.ok(agent.calls >= 6, 'cycles continued after the error');
  assert.equal(runner.isRunning, true);
  runner.close();
});

test('an AssertionFailure stops the runner loudly', () => {
  const timers = new FakeTimers();
  const errors: unknown[] = [];
  const agent = new ScriptedAgent((call) => {
    if (call === 2) throw new AssertionFailure('invariant broken');
    return 1;
  });
  const runner = newRunner(agent, timers, frozenClock, errors);
  runner.start();
  assert.throws(() => timers.fire(), AssertionFailure);
  assert.deepEqual(errors, [], 'bugs do not go to the error handler');
  assert.equal(runner.isRunning, false);
  assert.equal(runner.isFailed, true);
  assert.equal(timers.pending, 0, 'nothing more is scheduled');
  runner.wake();
  assert.equal(timers.pending, 0);
  runner.close();
  assert.equal(agent.closes, 1);
});

test('invalid options are rejected with CONFIG_INVALID', () => {
  const agent = new ScriptedAgent(() => 0);
  const base = { clock: frozenClock, errorHandler: () => undefined };
  for (const options of [{ maxCyclesPerTurn: 0 }, { maxBatchNs: -1 }, { idle: { spinImmediates: -1 } }, { idle: { maxIdleMs: 0 } }, { idle: { wakeInMicrotask: 'yes' as unknown as boolean } }]) {
    assert.throws(
      () => new AgentRunner(agent, { ...base, ...options }),
      (e: unknown) => e instanceof SkeinError && e.code === ErrorCode.CONFIG_INVALID,
      JSON.stringify(options),
    );
  }
});

test('on the real event loop an idle runner wakes up a bounded number of times', async () => {
  const agent = new ScriptedAgent(() => 0);
  const runner = new AgentRunner(agent, { clock: systemNanoClock, errorHandler: () => undefined });
  const windowMs = 300;
  runner.start();
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  const calls = agent.calls;
  runner.close();
  // Timers never fire early, so the back-off caps the cycles in the window: 1 + 10 spins, then
  // sleeps of 1, 2, 4, 8 and 10 ms. The test's own timer may fire a little late, hence the slack.
  const limit = new BackoffIdleStrategy().maxIdleCyclesIn(windowMs + 50);
  assert.ok(limit < 50, `limit ${limit}`);
  assert.ok(calls <= limit, `${calls} idle cycles in ${windowMs} ms, limit ${limit}`);
  assert.ok(calls >= 11, `the runner keeps polling while idle (${calls} cycles)`);
});

test('on the real event loop wake() runs a sleeping agent as soon as the caller returns', async () => {
  const agent = new ScriptedAgent(() => 0);
  const runner = new AgentRunner(agent, { clock: systemNanoClock, errorHandler: () => undefined, idle: { maxIdleMs: 1000 } });
  runner.start();
  await new Promise((resolve) => setTimeout(resolve, 100)); // long enough to be asleep on a timer
  const before = agent.calls;
  runner.wake();
  assert.equal(agent.calls, before, 'not inside wake()');
  await null; // the runner's microtask was queued first, so it has run when this continues
  assert.equal(agent.calls, before + 1);
  runner.close();
});

/**
 * Two datagrams already in a socket's buffer when the event loop polls: how many each duty cycle of
 * a sleeping runner, woken by each datagram's handler, takes.
 */
async function cycleBatchesForTwoReadyDatagrams(wakeInMicrotask: boolean): Promise<number[]> {
  const sockets: Socket[] = [];
  const bind = (socket: Socket): Promise<number> => new Promise((resolve) => socket.bind(0, '127.0.0.1', () => resolve(socket.address().port)));
  const queued: Buffer[] = [];
  const batches: number[] = [];
  const agent: Agent = {
    roleName: 'drain',
    doWork: () => {
      const taken = queued.splice(0).length;
      if (taken > 0) batches.push(taken);
      return taken;
    },
  };
  const runner = new AgentRunner(agent, { clock: systemNanoClock, errorHandler: () => undefined, idle: { maxIdleMs: 1000, wakeInMicrotask } });
  try {
    const receiver = createSocket('udp4');
    const sender = createSocket('udp4');
    sockets.push(receiver, sender);
    const port = await bind(receiver);
    await bind(sender);
    let received = 0;
    receiver.on('message', (message) => {
      received++;
      queued.push(message);
      runner.wake();
    });
    runner.start();
    await new Promise((resolve) => setTimeout(resolve, 100)); // long enough to be asleep on a timer
    // Both sent before the event loop polls again: both are in the receiver's buffer when it does.
    sender.send(Buffer.from('one'), port, '127.0.0.1');
    sender.send(Buffer.from('two'), port, '127.0.0.1');
    for (let waited = 0; (received < 2 || queued.length > 0) && waited < 2000; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(received, 2, 'both datagrams arrived');
    return batches;
  } finally {
    runner.close();
    for (const socket of sockets) socket.close();
  }
}

test('on the real event loop a runner woken on the next setImmediate takes datagrams that were ready together in one cycle', async () => {
  assert.deepEqual(await cycleBatchesForTwoReadyDatagrams(false), [2], 'wakeInMicrotask false: one cycle for both');
  // The contrast: woken in a microtask, the first datagram's cycle runs before the second's handler.
  assert.deepEqual(await cycleBatchesForTwoReadyDatagrams(true), [1, 1], 'wakeInMicrotask true: a cycle each');
});
