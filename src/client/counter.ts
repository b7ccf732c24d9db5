import { ErrorCode, SkeinError } from '../util/errors.js';

/** What a counter needs from the client that allocated it. */
export interface CounterOwner {
  releaseCounter(counter: Counter): void;
}

/**
 * A counter this client allocated in the driver's counters (see SkeinClient.addCounter): one
 * writer (this client) sets it; every reader of the driver's counters (`skein stat`, other
 * components) sees it under its type id, label and key. Closing frees it in the driver.
 */
export class Counter {
  readonly id: number;
  readonly typeId: number;
  readonly label: string;
  private readonly values: Float64Array;
  private readonly owner: CounterOwner;
  private closed = false;

  constructor(owner: CounterOwner, id: number, typeId: number, label: string, values: Float64Array) {
    this.owner = owner;
    this.id = id;
    this.typeId = typeId;
    this.label = label;
    this.values = values;
  }

  get value(): number {
    return this.values[this.id]!;
  }

  /** Sets the value; throws ERR_SKEIN_CLOSED once the counter is closed. */
  set(value: number): void {
    if (this.closed) throw new SkeinError(ErrorCode.CLOSED, `counter ${this.id} '${this.label}' is closed`, { state: 'CLOSED' });
    this.values[this.id] = value;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Frees the counter in the driver; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.owner.releaseCounter(this);
  }

  /** @internal The client closed: the driver frees its counters itself. */
  internalClose(): void {
    this.closed = true;
  }
}
