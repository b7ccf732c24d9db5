import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompositeAgent, type Agent } from '../../../src/agent/agent.js';
import { AgentInvoker } from '../../../src/agent/agent-invoker.js';
import type { NanoClock } from '../../../src/env/clock.js';
import { AssertionFailure } from '../../../src/util/assert.js';

let now = 1_000;
const clock: NanoClock = { nanoTime: () => now };

class LoggingAgent implements Agent {
  constructor(
    readonly roleName: string,
    private readonly log: string[],
    private readonly work: (nowNs: number) => number = () => 1,
  ) {}
  onStart(): void {
    this.log.push(`${this.roleName}:start`);
  }
  doWork(nowNs: number): number {
    this.log.push(`${this.roleName}:work@${nowNs}`);
    return this.work(nowNs);
  }
  onClose(): void {
    this.log.push(`${this.roleName}:close`);
  }
}

test('the invoker starts once, passes the clock time to doWork and closes once', () => {
  const log: string[] = [];
  const invoker = new AgentInvoker(new LoggingAgent('a', log, () => 3), clock, () => assert.fail('no errors expected'));
  assert.equal(invoker.invoke(), 0, 'not started yet');
  invoker.start();
  invoker.start();
  now = 5_000;
  assert.equal(invoker.invoke(), 3);
  assert.equal(invoker.isRunning, true);
  invoker.close();
  invoker.close();
  assert.equal(invoker.invoke(), 0, 'closed');
  assert.equal(invoker.isClosed, true);
  assert.deepEqual(log, ['a:start', 'a:work@5000', 'a:close']);
});

test('errors go to the handler; an AssertionFailure is rethrown', () => {
  const errors: unknown[] = [];
  let fail: Error | null = new Error('transient');
  const agent: Agent = {
    roleName: 'flaky',
    doWork: () => {
      if (fail !== null) throw fail;
      return 1;
    },
  };
  const invoker = new AgentInvoker(agent, clock, (e) => errors.push(e));
  invoker.start();
  assert.equal(invoker.invoke(), 0);
  assert.deepEqual(errors.map((e) => (e as Error).message), ['transient']);
  fail = null;
  assert.equal(invoker.invoke(), 1);
  fail = new AssertionFailure('bug');
  assert.throws(() => invoker.invoke(), AssertionFailure);
  assert.equal(errors.length, 1);
});

test('an agent whose onStart throws is reported and closed', () => {
  const errors: unknown[] = [];
  let closed = 0;
  const agent: Agent = {
    roleName: 'broken',
    onStart: () => {
      throw new Error('cannot start');
    },
    doWork: () => 1,
    onClose: () => void closed++,
  };
  const invoker = new AgentInvoker(agent, clock, (e) => errors.push(e));
  invoker.start();
  assert.equal(errors.length, 1);
  assert.equal(invoker.isClosed, true);
  assert.equal(closed, 1);
  assert.equal(invoker.invoke(), 0);
});

test('CompositeAgent runs members in order, sums work and names itself after them', () => {
  const log: string[] = [];
  const composite = new CompositeAgent([new LoggingAgent('a', log, () => 1), new LoggingAgent('b', log, () => 2)]);
  assert.equal(composite.roleName, '[a,b]');
  composite.onStart();
  assert.equal(composite.doWork(7), 3);
  composite.onClose();
  composite.onClose();
  assert.deepEqual(log, ['a:start', 'b:start', 'a:work@7', 'b:work@7', 'a:close', 'b:close']);
});

test('CompositeAgent applies adds and removes made during a cycle once the cycle ends', () => {
  const log: string[] = [];
  const composite = new CompositeAgent([], { roleName: 'group' });
  const late = new LoggingAgent('late', log);
  const first = new LoggingAgent('first', log, () => {
    composite.add(late);
    composite.remove(first);
    return 1;
  });
  composite.add(first);
  composite.onStart();
  assert.equal(composite.doWork(1), 1);
  assert.deepEqual(composite.members.map((a) => a.roleName), ['late']);
  assert.equal(composite.doWork(2), 1);
  assert.equal(composite.roleName, 'group');
  assert.deepEqual(log, ['first:start', 'first:work@1', 'late:start', 'first:close', 'late:work@2']);
});

test('CompositeAgent runs every member even when one throws, then rethrows the first error', () => {
  const log: string[] = [];
  const composite = new CompositeAgent([
    new LoggingAgent('a', log, () => {
      throw new Error('a failed');
    }),
    new LoggingAgent('b', log),
  ]);
  assert.throws(() => composite.doWork(1), /a failed/);
  assert.deepEqual(log, ['a:work@1', 'b:work@1']);
  const buggy = new CompositeAgent([
    new LoggingAgent('c', log, () => {
      throw new AssertionFailure('bug');
    }),
    new LoggingAgent('d', log),
  ]);
  assert.throws(() => buggy.doWork(2), AssertionFailure);
  assert.ok(!log.includes('d:work@2'), 'a bug stops the cycle at once');
});
