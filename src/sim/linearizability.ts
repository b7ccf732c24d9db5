/**
 * A linearizability checker for histories of client operations (docs/cluster.md,
 * "Linearizability"). A history lists, for every operation, who called it, its input, when it
 * was called, what it returned and when. It is linearizable when every operation can be given a
 * single instant between its call and its return such that, taken in that order, the operations
 * are what a sequential model would answer.
 *
 * The search is the one of Wing and Gong as improved by Lowe (depth-first over the operations
 * whose call precedes every pending return, with a cache of (set of operations placed, model
 * state) pairs already explored), applied per partition of a model whose operations on distinct
 * parts are independent (P-compositionality: a key-value store is checked key by key).
 *
 * Operations whose outcome the client never learnt (a timeout, a lost connection) are
 * indeterminate, as in Jepsen: they return at infinity with an unknown output, so they may take
 * effect at any instant after their call, or never (an indeterminate operation placed last
 * changes nothing anyone observed).
 *
 * Histories can be written as JSON in the shape of Porcupine's `Operation` (ClientId, Input,
 * Call, Output, Return), to be read by its Go tooling and visualiser.
 */

/** One operation of a history. Times are integers in any unit that orders events (simulated ns, say). */
export interface Operation<I, O> {
  readonly clientId: number;
  readonly input: I;
  readonly call: number;
  /** `undefined` when the operation is indeterminate. */
  readonly output: O | undefined;
  /** `Infinity` when the operation is indeterminate. */
  readonly return: number;
}

/** What {@link Model.step} returns when the object could not have answered as the client saw. */
export const ILLEGAL: unique symbol = Symbol('illegal');

/** A sequential specification. `step` must be a pure function of its arguments. */
export interface Model<S, I, O> {
  init(): S;
  /**
   * Applies `input` to `state` as the sequential object would. `output` is what the client saw,
   * `undefined` for an indeterminate operation (any output is then acceptable). Returns the next
   * state, or {@link ILLEGAL} when the object could not have answered `output` from `state`.
   */
  step(state: S, input: I, output: O | undefined): S | typeof ILLEGAL;
  /** Splits a history into independent parts (by key, say); one part when omitted. */
  partition?(history: readonly Operation<I, O>[]): Operation<I, O>[][];
  /** A string that is equal for equal states (for the search's cache). */
  stateKey(state: S): string;
  describeOperation?(input: I, output: O | undefined): string;
}

export type CheckVerdict = 'ok' | 'illegal' | 'unknown';

export interface CheckResult {
  readonly verdict: CheckVerdict;
  /** For 'illegal': the operations of the first partition found not linearizable. */
  readonly illegalPartition?: number;
  /** For 'illegal': the longest prefix of placements found in that partition (operation indices within it). */
  readonly longestLinearization?: number[];
  /** Search steps taken over all partitions. */
  readonly steps: number;
  /** For 'unknown': which limit was reached. */
  readonly reason?: string;
}

export interface CheckOptions {
  /** Gives up with 'unknown' after this many search steps in total. @default 10_000_000 */
  readonly maxSteps?: number;
}

interface Entry {
  /** Index of the operation within its partition. */
  readonly op: number;
  /** The operation's place among the calls in time order (the search's placed-set bit). */
  rank: number;
  readonly isCall: boolean;
  readonly time: number;
  /** The call entry's matching return entry (for calls). */
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

/** Checks one history; partitions are checked in turn and the first illegal one is reported. */
export function checkLinearizable<S, I, O>(model: Model<S, I, O>, history: readonly Operation<I, O>[], options: CheckOptions = {}): CheckResult {
  for (const op of history) validateOperation(op);
  const maxSteps = options.maxSteps ?? 10_000_000;
  const parts = model.partition === undefined ? [history.slice()] : model.partition(history);
  let steps = 0;
  for (let p = 0; p < parts.length; p++) {
    const result = checkPartition(model, parts[p]!, maxSteps - steps);
    steps += result.steps;
    if (result.verdict === 'illegal') return { verdict: 'illegal', illegalPartition: p, longestLinearization: result.longest, steps };
    if (result.verdict === 'unknown') return { verdict: 'unknown', steps, reason: `gave up after maxSteps=${maxSteps} search steps` };
  }
  return { verdict: 'ok', steps };
}

function validateOperation(op: Operation<unknown, unknown>): void {
  const indeterminate = op.return === Number.POSITIVE_INFINITY;
  if (!Number.isFinite(op.call) || !(op.return >= op.call) || (!indeterminate && op.output === undefined)) {
    throw new RangeError(`operation of client ${op.clientId} is invalid: call=${op.call} return=${op.return} (a return before its call, a non-finite call, or an output missing on a finite return)`);
  }
}

function buildEntries(ops: readonly Operation<unknown, unknown>[]): Entry | null {
  const entries: Entry[] = [];
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const call: Entry = { op: i, rank: 0, isCall: true, time: op.call, match: null, prev: null, next: null };
    const ret: Entry = { op: i, rank: 0, isCall: false, time: op.return, match: null, prev: null, next: null };
    call.match = ret;
    entries.push(call, ret);
  }
  // By time; at equal times calls first, so touching operations count as concurrent.
  entries.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.op - b.op : a.isCall ? -1 : 1));
  let rank = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    e.prev = i > 0 ? entries[i - 1]! : null;
    e.next = i + 1 < entries.length ? entries[i + 1]! : null;
    if (e.isCall) {
      e.rank = rank++;
      e.match!.rank = e.rank;
    }
  }
  return entries[0] ?? null;
}

/** Takes a call entry and its return out of the list; returns the new head. */
function lift(head: Entry | null, call: Entry): Entry | null {
  const ret = call.match!;
  for (const e of [call, ret]) {
    if (e.prev !== null) e.prev.next = e.next;
    else head = e.next;
    if (e.next !== null) e.next.prev = e.prev;
  }
  return head;
}

/** Puts them back where they were (the reverse of lift); returns the new head. */
function unlift(head: Entry | null, call: Entry): Entry | null {
  const ret = call.match!;
  for (const e of [ret, call]) {
    if (e.prev !== null) e.prev.next = e;
    else head = e;
    if (e.next !== null) e.next.prev = e;
  }
  return head;
}

class Bitset {
  readonly words: Uint32Array;
  constructor(size: number) {
    this.words = new Uint32Array(Math.max(1, Math.ceil(size / 32)));
  }
  set(i: number): void {
    this.words[i >>> 5]! |= 1 << (i & 31);
  }
  clear(i: number): void {
    this.words[i >>> 5]! &= ~(1 << (i & 31));
  }
  /** The words from the one holding bit `from` to the one holding bit `to`. */
  key(from: number, to: number): string {
    let s = '';
    for (let i = from >>> 5; i <= to >>> 5; i++) s += this.words[i]!.toString(36) + ',';
    return s;
  }
}

/**
 * Wing and Gong's search with Lowe's memo of (placed operations, state) already explored. The
 * placed set is keyed compactly: every call before the list's head (in time order) is placed, so
 * the set is the head's rank and the bits from there to the highest placed rank, a few words
 * however long the history (a key of the whole set made long runs run out of memory).
 */
function checkPartition<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[], maxSteps: number): { verdict: CheckVerdict; steps: number; longest: number[] } {
  let head = buildEntries(ops);
  const placed = new Bitset(ops.length);
  const seen = new Set<string>();
  const stack: { call: Entry; state: S; maxRank: number }[] = [];
  let state = model.init();
  let maxRank = -1;
  let entry = head;
  let steps = 0;
  // The longest run of placements seen; its first `agree` operations are the stack's (copied only past them).
  const longest: number[] = [];
  let longestLength = 0;
  let agree = 0;
  while (head !== null) {
    if (++steps > maxSteps) return { verdict: 'unknown', steps, longest: longest.slice(0, longestLength) };
    if (entry === null) throw new Error('linearizability search ran off the list');
    if (entry.isCall) {
      const op = ops[entry.op]!;
      const next = model.step(state, op.input, op.return === Number.POSITIVE_INFINITY ? undefined : op.output);
      if (next !== ILLEGAL) {
        placed.set(entry.rank);
        const lifted = lift(head, entry);
        const top = Math.max(maxRank, entry.rank);
        // The head of what is left is a call (a return's call comes before it); all ranks below it are placed.
        const frontier = lifted === null ? ops.length : lifted.rank;
        const key = `${frontier}|${top >= frontier ? placed.key(frontier, top) : ''}|${model.stateKey(next)}`;
        if (!seen.has(key)) {
          seen.add(key);
          stack.push({ call: entry, state, maxRank });
          state = next;
          maxRank = top;
          head = lifted;
          entry = head;
          continue;
        }
        head = unlift(lifted, entry);
        placed.clear(entry.rank);
      }
      entry = entry.next;
      continue;
    }
    // A return with its operation not placed: undo the last placement and try what follows it.
    if (stack.length > longestLength) {
      for (let i = agree; i < stack.length; i++) longest[i] = stack[i]!.call.op;
      longestLength = agree = stack.length;
    }
    const top = stack.pop();
    if (top === undefined) return { verdict: 'illegal', steps, longest: longest.slice(0, longestLength) };
    if (stack.length < agree) agree = stack.length;
    state = top.state;
    maxRank = top.maxRank;
    placed.clear(top.call.rank);
    head = unlift(head, top.call);
    entry = top.call.next;
  }
  return { verdict: 'ok', steps, longest: stack.map((s) => s.call.op) };
}

// -------------------------------------------------------------------------------------------------
// The key-value reference model (get, put, compare-and-set).

export type KvInput =
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string };

/** get: the value read (null: absent); put: nothing; cas: whether it swapped. */
export type KvOutput = { readonly value?: string | null; readonly ok?: boolean };

/** One key's value (null: absent); operations on different keys are independent. */
export const kvModel: Model<string | null, KvInput, KvOutput> = {
  init: () => null,
  step(state, input, output) {
    switch (input.op) {
      case 'get':
        return output === undefined || output.value === state ? state : ILLEGAL;
      case 'put':
        return input.value;
      case 'cas': {
        const swaps = state === input.expected;
        if (output !== undefined && output.ok !== swaps) return ILLEGAL;
        return swaps ? input.value : state;
      }
    }
  },
  partition(history) {
    const byKey = new Map<string, Operation<KvInput, KvOutput>[]>();
    for (const op of history) {
      let list = byKey.get(op.input.key);
      if (list === undefined) byKey.set(op.input.key, (list = []));
      list.push(op);
    }
    return [...byKey.values()];
  },
  stateKey: (state) => (state === null ? '\u0000' : `=${state}`),
  describeOperation(input, output) {
    const result = output === undefined ? '?' : input.op === 'get' ? JSON.stringify(output.value ?? null) : input.op === 'cas' ? String(output.ok) : 'ok';
    if (input.op === 'get') return `get(${input.key}) -> ${result}`;
    if (input.op === 'put') return `put(${input.key}, ${JSON.stringify(input.value)}) -> ${result}`;
    return `cas(${input.key}, ${JSON.stringify(input.expected)}, ${JSON.stringify(input.value)}) -> ${result}`;
  },
};

// -------------------------------------------------------------------------------------------------
// Porcupine's JSON shape.

/** Indeterminate operations return at the largest integer both JavaScript and Go's int64 hold exactly. */
export const PORCUPINE_INFINITY = Number.MAX_SAFE_INTEGER;

export interface PorcupineOperation<I, O> {
  readonly ClientId: number;
  readonly Input: I;
  readonly Call: number;
  readonly Output: O | null;
  readonly Return: number;
}

/** The history as an array of Porcupine `Operation`s (json.Unmarshal into []porcupine.Operation). */
export function toPorcupineJson<I, O>(history: readonly Operation<I, O>[]): string {
  const ops: PorcupineOperation<I, O>[] = history.map((op) => ({
    ClientId: op.clientId,
    Input: op.input,
    Call: op.call,
    Output: op.output === undefined ? null : op.output,
    Return: op.return === Number.POSITIVE_INFINITY ? PORCUPINE_INFINITY : op.return,
  }));
  return JSON.stringify(ops);
}

/** Reads what {@link toPorcupineJson} wrote; refuses entries that are not operations, naming the index. */
export function fromPorcupineJson<I, O>(json: string): Operation<I, O>[] {
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed)) throw new TypeError('a Porcupine history is a JSON array of operations');
  return parsed.map((raw: unknown, i) => {
    const op = raw as Partial<PorcupineOperation<I, O>>;
    if (typeof op !== 'object' || op === null || !Number.isInteger(op.ClientId) || !Number.isInteger(op.Call) || !Number.isInteger(op.Return) || !('Input' in op)) {
      throw new TypeError(`history entry ${i} is not an operation (ClientId, Input, Call, Output, Return): ${JSON.stringify(raw)}`);
    }
    const indeterminate = op.Return === PORCUPINE_INFINITY;
    return {
      clientId: op.ClientId!,
      input: op.Input as I,
      call: op.Call!,
      output: indeterminate || op.Output === null ? undefined : (op.Output as O),
      return: indeterminate ? Number.POSITIVE_INFINITY : op.Return!,
    };
  });
}
