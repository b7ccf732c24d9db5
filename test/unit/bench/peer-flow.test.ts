import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { combineSubscribers, creditEveryMessages, creditWindowMessages, payloadPoolSlots, phaseCommand } from '../../../bench/peers/phases.js';
import { CreditReporter, CreditWindow, PayloadPool, encodeCredit } from '../../../bench/peers/roles/send-loop.js';
import { PEER_ROLES } from '../../../bench/peers/peer-roles.js';
import { SCENARIOS, SYSTEMS, type RunEnv } from '../../../bench/peers/systems.js';
import { failureSummary } from '../../../bench/support/failure-summary.js';

describe('credit window', () => {
  it('closes after a window of messages and opens on the slowest receiver\'s credit', () => {
    let opened = 0;
    const window = new CreditWindow(2, () => opened++);
    window.reset(3, 1024);
    const size = creditWindowMessages(1024);
    for (let i = 0; i < size; i++) {
      assert.ok(window.open);
      window.onSent();
    }
    assert.equal(window.open, false);
    window.onCredit(encodeCredit(0, 3, size));
    assert.equal(window.open, false, 'the other receiver has credited nothing');
    window.onCredit(encodeCredit(1, 2, size));
    assert.equal(window.open, false, 'a credit of another phase is ignored');
    window.onCredit(encodeCredit(1, 3, 1));
    assert.ok(window.open);
    assert.equal(opened, 1);
    window.onCredit(encodeCredit(7, 3, size));
    assert.ok(window.open, 'an unknown receiver changes nothing');
  });

  it('the reporter credits every quarter window of a phase', () => {
    const sent: Buffer[] = [];
    const reporter = new CreditReporter(1, (credit) => sent.push(credit));
    const every = creditEveryMessages(32);
    for (let n = 1; n <= 2 * every; n++) reporter.onMessage(5, n, 32);
    assert.equal(sent.length, 2);
    assert.deepEqual([sent[1]!.readUInt32LE(0), sent[1]!.readUInt32LE(4), sent[1]!.readUInt32LE(8)], [1, 5, 2 * every]);
  });

  it('windows and pools stay within their bounds for every message length', () => {
    for (const length of [8, 32, 256, 1024, 65536, 1 << 20]) {
      const window = creditWindowMessages(length);
      assert.ok(window >= 16 && window <= 16_384);
      assert.ok(payloadPoolSlots(length) > window, 'a buffer is never rewritten while inside the credit window');
    }
  });

  it('a payload pool hands out distinct buffers in rotation, each with the pattern', () => {
    const pool = new PayloadPool(3, 16);
    const a = pool.next();
    const b = pool.next();
    pool.next();
    assert.notEqual(a, b);
    assert.equal(pool.next(), a);
    assert.equal(a.length, 16);
    assert.equal(a[9], 9);
  });
});

describe('phases', () => {
  it('combines fan-out subscribers: the slowest rate, the sum and the worst loss', () => {
    const combined = combineSubscribers([
      { msgsPerSec: 100, mbPerSec: 1, lossPct: 0, receiverCpuPct: 50 },
      { msgsPerSec: 80, mbPerSec: 0.8, lossPct: 2, receiverCpuPct: 70 },
    ]);
    assert.deepEqual(combined, { msgsPerSec: 80, maxSubscriberMsgsPerSec: 100, deliveredMsgsPerSec: 180, mbPerSec: 0.8, lossPct: 2, receiverCpuPct: 60, subscribers: 2 });
  });

  it('rejects a phase command without a usable length', () => {
    assert.throws(() => phaseCommand({ phase: 0, length: 4 }), /length/);
    assert.deepEqual(phaseCommand({ phase: 1, length: 32 }), { phase: 1, length: 32, inFlight: 1 });
  });
});

describe('systems table', () => {
  const env: RunEnv = { natsServer: '127.0.0.1:4222', redisPort: 6379, tmpDir: '/tmp', unique: 'test', connectTimeoutMs: 1000 };

  it('every child of every system plays a known role, and one of them measures', async () => {
    for (const spec of SYSTEMS) {
      const plans = await spec.plan(env);
      assert.ok(plans.length > 0, spec.id);
      for (const plan of plans) assert.ok(PEER_ROLES[plan.role] !== undefined, `${spec.scenario}/${spec.id}: unknown role ${plan.role}`);
      assert.ok(plans.some((p) => p.measures === true), `${spec.scenario}/${spec.id} has no measuring child`);
      assert.ok(plans.some((p) => p.driver === true), `${spec.scenario}/${spec.id} has no driving child`);
    }
  });

  it('ids are unique within a scenario, and every scenario has Skein and at least one peer', () => {
    for (const scenario of SCENARIOS) {
      const specs = SYSTEMS.filter((s) => s.scenario === scenario.id);
      assert.equal(new Set(specs.map((s) => s.id)).size, specs.length, scenario.id);
      assert.ok(specs.some((s) => s.kind === 'skein'));
      assert.ok(specs.some((s) => s.kind === 'peer'));
    }
  });
});

describe('failure summary', () => {
  it('keeps the first line and the line naming the error from a child\'s stderr', () => {
    const message = "child x (pid 1) failed: file:///a.js:7\nimport { X } from './b.js';\n         ^\nSyntaxError: The requested module './b.js' does not provide an export named 'X'\n    at ModuleJob";
    assert.equal(failureSummary(message), "child x (pid 1) failed: file:///a.js:7 … SyntaxError: The requested module './b.js' does not provide an export named 'X'");
    assert.equal(failureSummary('timed out after 10 ms'), 'timed out after 10 ms');
  });
});
