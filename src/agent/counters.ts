import { ErrorCode, SkeinError } from '../util/errors.js';
import { systemEpochClock, type EpochClock } from '../env/clock.js';

/** What a counter is about; all fields optional. */
export interface CounterKey {
  registrationId?: number;
  sessionId?: number;
  streamId?: number;
  channel?: string;
  /** Archive recording position counters: the recording, its archive and its source. */
  recordingId?: number;
  archiveId?: number;
  sourceIdentity?: string;
}

export interface CountersManagerOptions {
  /** Number of counters. @default 4096 */
  capacity?: number;
  /** Time source for {@link freeToReuseTimeoutMs}. @default systemEpochClock */
  epochClock?: EpochClock;
  /**
   * A freed id is not handed out again for this long, so that late readers of the old counter
   * cannot mistake a new counter for it. @default 0
   */
  freeToReuseTimeoutMs?: number;
}

export const DEFAULT_COUNTERS_CAPACITY = 4096;
export const COUNTERS_CAPACITY_MAX = 1 << 20;
/** Labels longer than this are truncated. */
export const COUNTER_LABEL_LENGTH_MAX = 380;

const FREE = 0;
const ALLOCATED = 1;

/**
 * A fixed table of numeric counters. Values live in a Float64Array over a SharedArrayBuffer
 * (exact integers up to 2^53) so worker threads can read them; labels, type ids and keys are kept
 * alongside. Each counter should have a single writer. Ids of freed counters are reused, oldest
 * freed first, before unused ids.
 */
export class CountersManager {
  readonly capacity: number;
  /** Counter values indexed by counter id. */
  readonly values: Float64Array;
  private readonly states: Uint8Array;
  private readonly typeIds: Int32Array;
  private readonly labels: string[];
  private readonly keys: Array<Readonly<CounterKey>>;
  private readonly epochClock: EpochClock;
  private readonly freeToReuseTimeoutMs: number;
  private readonly freeIds: number[] = [];
  private readonly freeDeadlinesMs: number[] = [];
  private freeHead = 0;
  private highWater = 0;
  private allocated = 0;

  constructor(options: CountersManagerOptions = {}) {
    const capacity = options.capacity ?? DEFAULT_COUNTERS_CAPACITY;
    if (!(Number.isInteger(capacity) && capacity >= 1 && capacity <= COUNTERS_CAPACITY_MAX)) {
      throw new SkeinError(
        ErrorCode.CONFIG_INVALID,
        `counters capacity=${String(options.capacity)} is invalid; expected an integer in [1, ${COUNTERS_CAPACITY_MAX}]`,
      );
    }
    const timeoutMs = options.freeToReuseTimeoutMs ?? 0;
    if (!(Number.isFinite(timeoutMs) && timeoutMs >= 0)) {
      throw new SkeinError(
        ErrorCode.CONFIG_INVALID,
        `counters freeToReuseTimeoutMs=${String(timeoutMs)} is invalid; expected a number >= 0`,
      );
    }
    this.capacity = capacity;
    this.values = new Float64Array(new SharedArrayBuffer(capacity * Float64Array.BYTES_PER_ELEMENT));
    this.states = new Uint8Array(capacity);
    this.typeIds = new Int32Array(capacity);
    this.labels = new Array<string>(capacity).fill('');
    this.keys = new Array<Readonly<CounterKey>>(capacity).fill(EMPTY_KEY);
    this.epochClock = options.epochClock ?? systemEpochClock;
    this.freeToReuseTimeoutMs = timeoutMs;
  }

  /** Counters currently allocated. */
  get allocatedCount(): number {
    return this.allocated;
  }

  /**
   * Allocates a counter with value 0 and returns its id. Throws SkeinError ERR_SKEIN_COUNTERS_FULL
   * when every id is in use (or freed too recently to be reused).
   */
  allocate(typeId: number, label: string, key: CounterKey = {}): number {
    if (!(Number.isInteger(typeId) && typeId >= -0x80000000 && typeId <= 0x7fffffff)) {
      throw new SkeinError(ErrorCode.ARG_INVALID, `counter typeId=${String(typeId)} is invalid; expected a 32-bit integer`);
    }
    const id = this.nextFreeId();
    if (id < 0) {
      throw new SkeinError(
        ErrorCode.COUNTERS_FULL,
        `cannot allocate counter '${label}': all ${this.capacity} counters are in use (capacity=${this.capacity})`,
      );
    }
    this.states[id] = ALLOCATED;
    this.typeIds[id] = typeId;
    this.labels[id] = label.length > COUNTER_LABEL_LENGTH_MAX ? label.slice(0, COUNTER_LABEL_LENGTH_MAX) : label;
    this.keys[id] = Object.freeze({ ...key });
    this.values[id] = 0;
    this.allocated++;
    return id;
  }

  /** Frees a counter so its id can be reused; no-op when it is not allocated. */
  free(counterId: number): void {
    this.checkId(counterId);
    if (this.states[counterId] !== ALLOCATED) return;
    this.states[counterId] = FREE;
    this.values[counterId] = 0;
    this.labels[counterId] = '';
    this.keys[counterId] = EMPTY_KEY;
    this.allocated--;
    this.freeIds.push(counterId);
    this.freeDeadlinesMs.push(this.freeToReuseTimeoutMs === 0 ? 0 : this.epochClock.epochMs() + this.freeToReuseTimeoutMs);
  }

  get(counterId: number): number {
    return this.values[counterId] as number;
  }

  set(counterId: number, value: number): void {
    this.values[counterId] = value;
  }

  add(counterId: number, delta: number): void {
    this.values[counterId] += delta;
  }

  isAllocated(counterId: number): boolean {
    return Number.isInteger(counterId) && counterId >= 0 && counterId < this.capacity && this.states[counterId] === ALLOCATED;
  }

  label(counterId: number): string {
    this.checkId(counterId);
    return this.labels[counterId] as string;
  }

  typeId(counterId: number): number {
    this.checkId(counterId);
    return this.typeIds[counterId] as number;
  }

  key(counterId: number): Readonly<CounterKey> {
    this.checkId(counterId);
    return this.keys[counterId] as Readonly<CounterKey>;
  }

  /** Visits every allocated counter in id order. */
  forEach(fn: (counterId: number, typeId: number, value: number, label: string) => void): void {
    for (let id = 0; id < this.highWater; id++) {
      if (this.states[id] === ALLOCATED) {
        fn(id, this.typeIds[id] as number, this.values[id] as number, this.labels[id] as string);
      }
    }
  }

  /** The first allocated counter with this type id and, when given, registration id; -1 if none. */
  find(typeId: number, registrationId?: number): number {
    for (let id = 0; id < this.highWater; id++) {
      if (this.states[id] === ALLOCATED && this.typeIds[id] === typeId) {
        if (registrationId === undefined || this.keys[id]?.registrationId === registrationId) return id;
      }
    }
    return -1;
  }

  private nextFreeId(): number {
    if (this.freeHead < this.freeIds.length) {
      const deadlineMs = this.freeDeadlinesMs[this.freeHead] as number;
      if (deadlineMs === 0 || this.epochClock.epochMs() >= deadlineMs) {
        const id = this.freeIds[this.freeHead] as number;
        this.freeHead++;
        this.compactFreeQueue();
        return id;
      }
    }
    if (this.highWater < this.capacity) return this.highWater++;
    return -1;
  }

  private compactFreeQueue(): void {
    if (this.freeHead === this.freeIds.length) {
      this.freeIds.length = 0;
      this.freeDeadlinesMs.length = 0;
      this.freeHead = 0;
    } else if (this.freeHead > 64 && this.freeHead * 2 > this.freeIds.length) {
      this.freeIds.splice(0, this.freeHead);
      this.freeDeadlinesMs.splice(0, this.freeHead);
      this.freeHead = 0;
    }
  }

  private checkId(counterId: number): void {
    if (!(Number.isInteger(counterId) && counterId >= 0 && counterId < this.capacity)) {
      throw new SkeinError(
        ErrorCode.ARG_INVALID,
        `counter id ${String(counterId)} is out of range; expected an integer in [0, ${this.capacity - 1}]`,
      );
    }
  }
}

const EMPTY_KEY: Readonly<CounterKey> = Object.freeze({});

/**
 * A handle on one allocated counter. After close() the counter is freed and the handle writes to
 * a private slot, so a stale handle can never change a counter that reused the id.
 */
export class AtomicCounter {
  readonly id: number;
  protected values: Float64Array;
  protected index: number;
  private closed = false;

  constructor(
    readonly manager: CountersManager,
    id: number,
  ) {
    if (!manager.isAllocated(id)) {
      throw new SkeinError(ErrorCode.ARG_INVALID, `counter id ${String(id)} is not allocated`);
    }
    this.id = id;
    this.values = manager.values;
    this.index = id;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get(): number {
    return this.values[this.index] as number;
  }

  set(value: number): void {
    this.values[this.index] = value;
  }

  increment(): void {
    this.values[this.index]++;
  }

  add(delta: number): void {
    this.values[this.index] += delta;
  }

  /** Frees the counter; idempotent. get() keeps returning the last value. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const detached = new Float64Array(1);
    detached[0] = this.get();
    this.values = detached;
    this.index = 0;
    this.manager.free(this.id);
  }
}

/** A counter holding a stream position: it only moves forward through {@link proposeMax}. */
export class Position extends AtomicCounter {
  /** Sets the value to `value` when it is greater; returns whether it changed. */
  proposeMax(value: number): boolean {
    if (value > (this.values[this.index] as number)) {
      this.values[this.index] = value;
      return true;
    }
    return false;
  }

  /**
   * Sets the value for readers on other threads. JavaScript has no atomic float64 store; aligned
   * 8-byte stores are not torn on 64-bit platforms, and readers must tolerate seeing the update late.
   */
  setOrdered(value: number): void {
    this.values[this.index] = value;
  }
}
