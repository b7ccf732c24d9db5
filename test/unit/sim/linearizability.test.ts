/**
 * The linearizability checker: hand-made histories with known verdicts (stale reads, lost
 * compare-and-sets, indeterminate operations that did or did not take effect), histories made by
 * running a sequential store with random overlap (always linearizable) and the same histories with
 * one read corrupted (never), key-by-key partitioning, a step budget that gives 'unknown', and
 * Porcupine's JSON shape.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  PORCUPINE_INFINITY, checkLinearizable, fromPorcupineJson, kvModel, toPorcupineJson, type KvInput, type KvOutput, type Operation,
} from '../../../src/sim/linearizability.js';

type Op = Operation<KvInput, KvOutput>;
const INF = Number.POSITIVE_INFINITY;

const get = (clientId: number, key: string, value: string | null, call: number, ret: number): Op => ({ clientId, input: { op: 'get', key }, output: { value }, call, return: ret });
const put = (clientId: number, key: string, value: string, call: number, ret: number): Op => ({ clientId, input: { op: 'put', key, value }, output: ret === INF ? undefined : {}, call, return: ret });
const cas = (clientId: number, key: string, expected: string | null, value: string, ok: boolean | undefined, call: number, ret: number): Op => ({
  clientId, input: { op: 'cas', key, expected, value }, output: ok === undefined ? undefined : { ok }, call, return: ret,
});

const verdict = (history: Op[]): string => checkLinearizable(kvModel, history).verdict;

test('sequential histories: what the store answers is linearizable, anything else is not', () => {
  assert.equal(verdict([put(0, 'x', 'a', 0, 1), get(0, 'x', 'a', 2, 3), put(0, 'x', 'b', 4, 5), get(0, 'x', 'b', 6, 7)]), 'ok');
  assert.equal(verdict([get(0, 'x', null, 0, 1), put(0, 'x', 'a', 2, 3), get(0, 'x', null, 4, 5)]), 'illegal');
  assert.equal(verdict([]), 'ok');
});

test('a stale read after a newer read is illegal; concurrent reads may see either side of a write', () => {
  // The write overlaps both reads; the read of the new value ends before the read of the old one begins.
  assert.equal(verdict([put(0, 'x', '1', 0, 10), get(1, 'x', '1', 1, 3), get(2, 'x', null, 4, 6)]), 'illegal');
  // The two reads overlap each other: the old value may be read first.
  assert.equal(verdict([put(0, 'x', '1', 0, 10), get(1, 'x', '1', 2, 7), get(2, 'x', null, 3, 7)]), 'ok');
  // Calls and returns at the same instant count as concurrent.
  assert.equal(verdict([put(0, 'x', '1', 0, 5), get(1, 'x', null, 5, 6)]), 'ok');
});

test('compare-and-set: two swaps from the same expected value cannot both succeed', () => {
  assert.equal(verdict([cas(0, 'x', null, 'a', true, 0, 5), cas(1, 'x', null, 'b', true, 1, 6)]), 'illegal');
  assert.equal(verdict([cas(0, 'x', null, 'a', true, 0, 5), cas(1, 'x', null, 'b', false, 1, 6), get(2, 'x', 'a', 7, 8)]), 'ok');
  assert.equal(verdict([cas(0, 'x', null, 'a', true, 0, 5), cas(1, 'x', null, 'b', false, 1, 6), get(2, 'x', 'b', 7, 8)]), 'illegal');
  // A failed swap must have seen a value other than the expected one.
  assert.equal(verdict([cas(0, 'x', null, 'a', false, 0, 1)]), 'illegal');
});

test('indeterminate operations may have taken effect at any instant after their call, or never', () => {
  assert.equal(verdict([put(0, 'x', '1', 0, INF), get(1, 'x', '1', 5, 6)]), 'ok');
  assert.equal(verdict([put(0, 'x', '1', 0, INF), get(1, 'x', null, 5, 6)]), 'ok');
  assert.equal(verdict([put(0, 'x', '1', 0, INF), get(1, 'x', '1', 5, 6), get(1, 'x', null, 7, 8)]), 'illegal');
  // Not before its call.
  assert.equal(verdict([get(1, 'x', '1', 0, 1), put(0, 'x', '1', 2, INF)]), 'illegal');
  // An indeterminate compare-and-set swaps when it finds the expected value.
  assert.equal(verdict([cas(0, 'x', null, 'a', undefined, 0, INF), get(1, 'x', 'a', 3, 4)]), 'ok');
  assert.equal(verdict([put(2, 'x', 'z', 0, 1), cas(0, 'x', null, 'a', undefined, 2, INF), get(1, 'x', 'a', 3, 4)]), 'illegal');
});

test('keys are checked apart: an illegal key is found among legal ones and named by its partition', () => {
  const history = [put(0, 'a', '1', 0, 1), get(1, 'a', '1', 2, 3), put(0, 'b', '1', 0, 1), get(1, 'b', null, 2, 3), get(2, 'c', null, 0, 9)];
  const result = checkLinearizable(kvModel, history);
  assert.equal(result.verdict, 'illegal');
  assert.equal(result.illegalPartition, 1);
  assert.ok((result.longestLinearization?.length ?? 0) >= 1);
});

/** Runs random operations on a sequential store at distinct instants and widens each into a random window around its instant. */
const arbitraryHistory = fc
  .array(
    fc.record({
      kind: fc.constantFrom('get', 'put', 'cas'),
      key: fc.constantFrom('k1', 'k2'),
      value: fc.constantFrom('a', 'b', 'c'),
      expected: fc.constantFrom<string | null>(null, 'a', 'b'),
      before: fc.integer({ min: 0, max: 40 }),
      after: fc.integer({ min: 0, max: 40 }),
      indeterminate: fc.boolean(),
    }),
    { minLength: 1, maxLength: 40 },
  )
  .map((specs) => {
    const store = new Map<string, string>();
    const history: Op[] = [];
    specs.forEach((s, i) => {
      const at = 100 + i * 10;
      const call = at - s.before;
      const ret = at + s.after;
      const current = store.get(s.key) ?? null;
      if (s.kind === 'get') history.push(get(i % 5, s.key, current, call, ret));
      else if (s.kind === 'put') {
        store.set(s.key, s.value);
        history.push(put(i % 5, s.key, s.value, call, s.indeterminate ? INF : ret));
      } else {
        const ok = current === s.expected;
        if (ok) store.set(s.key, s.value);
        history.push(cas(i % 5, s.key, s.expected, s.value, s.indeterminate ? undefined : ok, call, s.indeterminate ? INF : ret));
      }
    });
    return history;
  });

test('property: a history produced by a sequential store is linearizable, whatever the overlap', () => {
  fc.assert(
    fc.property(arbitraryHistory, (history) => {
      assert.equal(checkLinearizable(kvModel, history).verdict, 'ok');
    }),
    { seed: 21, numRuns: 300 },
  );
});

test('property: the same history with one read answering a value never written is illegal', () => {
  fc.assert(
    fc.property(arbitraryHistory, fc.nat(), (history, pick) => {
      const reads = history.map((op, i) => (op.input.op === 'get' ? i : -1)).filter((i) => i >= 0);
      fc.pre(reads.length > 0);
      const i = reads[pick % reads.length]!;
      const corrupted = history.slice();
      corrupted[i] = { ...history[i]!, output: { value: 'never-written' } };
      assert.equal(checkLinearizable(kvModel, corrupted).verdict, 'illegal');
    }),
    { seed: 22, numRuns: 300 },
  );
});

/** Every order of the operations (indeterminate ones in or out) that keeps real-time order: is one legal? */
function bruteForce(history: Op[]): boolean {
  const must = history.filter((op) => op.return !== INF);
  const maybe = history.filter((op) => op.return === INF);
  const orders = (ops: Op[]): Op[][] => (ops.length <= 1 ? [ops] : ops.flatMap((op, i) => orders([...ops.slice(0, i), ...ops.slice(i + 1)]).map((rest) => [op, ...rest])));
  for (let mask = 0; mask < 1 << maybe.length; mask++) {
    const chosen = [...must, ...maybe.filter((_, i) => (mask >> i) & 1)];
    for (const order of orders(chosen)) {
      // An operation that returned before another was called comes first (touching ones are concurrent).
      if (order.some((a, i) => order.slice(0, i).some((b) => a.return < b.call))) continue;
      let state: string | null = null;
      let legal = true;
      for (const op of order) {
        const next = kvModel.step(state, op.input, op.return === INF ? undefined : op.output);
        if (typeof next === 'symbol') {
          legal = false;
          break;
        }
        state = next as string | null;
      }
      if (legal) return true;
    }
  }
  return false;
}

const arbitrarySmallHistory: fc.Arbitrary<Op[]> = fc.array(
  fc.record({
    kind: fc.constantFrom('get', 'put', 'cas'),
    value: fc.constantFrom('a', 'b'),
    expected: fc.constantFrom(null, 'a', 'b'),
    read: fc.constantFrom(null, 'a', 'b'),
    ok: fc.boolean(),
    call: fc.integer({ min: 0, max: 20 }),
    length: fc.integer({ min: 0, max: 8 }),
    indeterminate: fc.boolean(),
  }),
  { minLength: 1, maxLength: 6 },
).map((specs) => specs.map((o, i) => {
  const ret = o.indeterminate && o.kind !== 'get' ? INF : o.call + o.length;
  if (o.kind === 'get') return get(i, 'x', o.read, o.call, ret);
  if (o.kind === 'put') return put(i, 'x', o.value, o.call, ret);
  return cas(i, 'x', o.expected, o.value, ret === INF ? undefined : o.ok, o.call, ret);
}));

test('property: on small histories (legal and not) the search agrees with trying every order', () => {
  let legal = 0;
  fc.assert(
    fc.property(arbitrarySmallHistory, (history) => {
      const expected = bruteForce(history);
      if (expected) legal++;
      assert.equal(checkLinearizable(kvModel, history).verdict, expected ? 'ok' : 'illegal', JSON.stringify(history));
    }),
    { seed: 23, numRuns: 1000 },
  );
  assert.ok(legal > 100 && legal < 900, `both verdicts drawn (${legal} of 1000 legal)`);
});

test('a long history keeps the search small: 60,000 operations of four overlapping clients check in a bounded number of steps', () => {
  const history: Op[] = [];
  let value: string | null = null;
  for (let i = 0; i < 60_000; i++) {
    const t = i * 10;
    if (i % 3 === 0) {
      value = `v${i}`;
      history.push(put(i % 4, 'x', value, t, t + 25));
    } else history.push(get(i % 4, 'x', value, t + 20, t + 30));
  }
  const result = checkLinearizable(kvModel, history);
  assert.equal(result.verdict, 'ok');
  assert.ok(result.steps < 1_000_000, `${result.steps} steps`);
});

test('the search gives up with unknown at its step budget, and says so', () => {
  const history: Op[] = [];
  for (let i = 0; i < 30; i++) history.push(put(i, 'x', String(i), 0, 100));
  history.push(get(99, 'x', 'none of them', 0, 100));
  const result = checkLinearizable(kvModel, history, { maxSteps: 500 });
  assert.equal(result.verdict, 'unknown');
  assert.match(result.reason ?? '', /maxSteps=500/);
});

test('an operation that returns before its call, or has no output on a finite return, is refused naming the client', () => {
  assert.throws(() => checkLinearizable(kvModel, [get(7, 'x', null, 5, 4)]), /client 7 is invalid: call=5 return=4/);
  assert.throws(() => checkLinearizable(kvModel, [{ clientId: 3, input: { op: 'get', key: 'x' }, output: undefined, call: 0, return: 1 }]), /client 3 is invalid/);
});

test('Porcupine JSON: the shape of porcupine.Operation, indeterminate operations at the largest safe integer, read back unchanged', () => {
  const history = [put(0, 'x', '1', 0, INF), get(1, 'x', '1', 5, 6), cas(2, 'x', '1', '2', true, 7, 9)];
  const json = toPorcupineJson(history);
  const parsed = JSON.parse(json) as Array<Record<string, unknown>>;
  assert.deepEqual(Object.keys(parsed[0]!), ['ClientId', 'Input', 'Call', 'Output', 'Return']);
  assert.equal(parsed[0]!['Return'], PORCUPINE_INFINITY);
  assert.equal(parsed[0]!['Output'], null);
  assert.deepEqual(parsed[2], { ClientId: 2, Input: { op: 'cas', key: 'x', expected: '1', value: '2' }, Call: 7, Output: { ok: true }, Return: 9 });
  assert.deepEqual(fromPorcupineJson<KvInput, KvOutput>(json), history);
  assert.throws(() => fromPorcupineJson('[{"ClientId":1,"Input":{},"Call":0,"Output":null,"Return":1},{"ClientId":"x"}]'), /history entry 1 is not an operation/);
});
