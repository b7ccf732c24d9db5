import { assert } from '../util/assert.js';
import type { SetupInfo } from './receive-channel-endpoint.js';

/**
 * A session whose SETUP a receive endpoint answered but whose sender has not yet sent DATA or a
 * heartbeat from the SETUP's source: not yet an image, so no log is allocated for it.
 */
export interface PendingImage extends SetupInfo {
  sessionId: number;
  streamId: number;
  initialTermId: number;
  activeTermId: number;
  termOffset: number;
  termLength: number;
  mtu: number;
  flags: number;
  srcAddress: string;
  srcPort: number;
  /** The entry is dropped (expired) at this time unless DATA or a heartbeat establishes it first. */
  deadlineNs: number;
}

interface Entry extends PendingImage {
  source: SourceGroup | null;
  /** Neighbours in the table's order (oldest refresh first, so deadlines ascend). */
  prev: Entry | null;
  next: Entry | null;
  /** Neighbours in the order of the entry's source. */
  sourcePrev: Entry | null;
  sourceNext: Entry | null;
}

/** The entries of one source address and port, oldest refresh first. */
interface SourceGroup {
  readonly port: number;
  readonly address: AddressGroup;
  count: number;
  oldest: Entry | null;
  newest: Entry | null;
}

interface AddressGroup {
  readonly address: string;
  count: number;
  readonly ports: Map<number, SourceGroup>;
  readonly byCount: CountIndex<SourceGroup>;
}

/**
 * Groups by how many entries each holds, so that a group holding the most is found in O(1).
 * Counts move by one at a time, so the largest count drops by at most one per change.
 */
class CountIndex<T extends { count: number }> {
  private readonly buckets: Set<T>[] = [];
  private max = 0;

  /** `group.count` has just grown by one. */
  raised(group: T): void {
    const count = group.count;
    if (count > 1) this.buckets[count - 1]!.delete(group);
    let bucket = this.buckets[count];
    if (bucket === undefined) this.buckets[count] = bucket = new Set();
    bucket.add(group);
    if (count > this.max) this.max = count;
  }

  /** `group.count` has just dropped by one. */
  lowered(group: T): void {
    const count = group.count;
    this.buckets[count + 1]!.delete(group);
    if (count > 0) this.buckets[count]!.add(group);
    while (this.max > 0 && this.buckets[this.max]!.size === 0) this.max--;
  }

  /** A group holding the most entries (of several, the one that reached that count first). */
  top(): T | undefined {
    if (this.max === 0) return undefined;
    for (const group of this.buckets[this.max]!) return group;
    return undefined;
  }
}

/** What {@link PendingImageTable.put} did. */
export const enum PutResult {
  ADDED,
  REFRESHED,
  /** Added after evicting another entry at the capacity. */
  ADDED_AFTER_EVICTION,
}

/**
 * The unestablished images of one receive endpoint: at most `capacity` entries, each dropped at
 * its deadline. When full, a new entry evicts the oldest entry of the source (address and port)
 * holding the most entries within the source address holding the most entries. So one source, or
 * one host with many ports, only ever evicts its own entries while another source holds fewer;
 * when many sources hold one entry each (a flood from at least `capacity` addresses), eviction is
 * oldest first, so an entry survives at least `capacity` newer entries.
 *
 * Every operation is O(1) amortised (expiry walks only what expired). Entry objects of removed
 * sessions are reused, so a flood at the capacity allocates no entries.
 */
export class PendingImageTable {
  readonly capacity: number;
  private readonly byStream = new Map<number, Map<number, Entry>>();
  private readonly addresses = new Map<string, AddressGroup>();
  private readonly byCount = new CountIndex<AddressGroup>();
  private oldest: Entry | null = null;
  private newest: Entry | null = null;
  private count = 0;
  private readonly spare: Entry[] = [];

  constructor(capacity: number) {
    assert(Number.isInteger(capacity) && capacity >= 1, `pending image capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
  }

  get size(): number {
    return this.count;
  }

  get(streamId: number, sessionId: number): PendingImage | undefined {
    return this.byStream.get(streamId)?.get(sessionId);
  }

  /** Entries held for one source address and port. */
  countFrom(address: string, port: number): number {
    return this.addresses.get(address)?.ports.get(port)?.count ?? 0;
  }

  /** Distinct source addresses holding entries. */
  get addressCount(): number {
    return this.addresses.size;
  }

  /**
   * Records a SETUP: a new session is added (evicting another entry when full), a known one takes
   * the SETUP's fields and source and becomes the newest entry. Expired entries must have been
   * dropped first ({@link expire}), so that eviction only takes live entries.
   */
  put(setup: Omit<SetupInfo, 'srcAddress' | 'srcPort'>, srcAddress: string, srcPort: number, deadlineNs: number): PutResult {
    let sessions = this.byStream.get(setup.streamId);
    let entry = sessions?.get(setup.sessionId);
    let result = PutResult.REFRESHED;
    if (entry !== undefined) {
      this.unlink(entry);
    } else {
      result = PutResult.ADDED;
      if (this.count >= this.capacity) {
        this.evictOne();
        result = PutResult.ADDED_AFTER_EVICTION;
      }
      // The eviction may have emptied and dropped this stream's map.
      sessions = this.byStream.get(setup.streamId);
      if (sessions === undefined) this.byStream.set(setup.streamId, (sessions = new Map()));
      entry = this.spare.pop() ?? newEntry();
      entry.sessionId = setup.sessionId;
      entry.streamId = setup.streamId;
      sessions.set(setup.sessionId, entry);
      this.count++;
    }
    entry.initialTermId = setup.initialTermId;
    entry.activeTermId = setup.activeTermId;
    entry.termOffset = setup.termOffset;
    entry.termLength = setup.termLength;
    entry.mtu = setup.mtu;
    entry.flags = setup.flags;
    entry.srcAddress = srcAddress;
    entry.srcPort = srcPort;
    entry.deadlineNs = deadlineNs;
    this.link(entry);
    return result;
  }

  /** Drops an entry (established, or no longer wanted). */
  remove(pending: PendingImage): void {
    const entry = pending as Entry;
    const sessions = this.byStream.get(entry.streamId);
    if (sessions?.get(entry.sessionId) !== entry) return;
    sessions.delete(entry.sessionId);
    if (sessions.size === 0) this.byStream.delete(entry.streamId);
    this.unlink(entry);
    this.count--;
    entry.srcAddress = '';
    this.spare.push(entry);
  }

  /** Drops every entry whose deadline has passed; returns how many. */
  expire(nowNs: number): number {
    let expired = 0;
    while (this.oldest !== null && nowNs >= this.oldest.deadlineNs) {
      this.remove(this.oldest);
      expired++;
    }
    return expired;
  }

  /** Drops every entry of a stream (its last subscription went). */
  removeStream(streamId: number): void {
    const sessions = this.byStream.get(streamId);
    if (sessions === undefined) return;
    for (const entry of [...sessions.values()]) this.remove(entry);
  }

  private evictOne(): void {
    const address = this.byCount.top();
    const source = address?.byCount.top();
    assert(source?.oldest != null, 'a full pending image table has a source holding entries');
    this.remove(source.oldest);
  }

  /** Appends the entry as the newest of the table and of its source. */
  private link(entry: Entry): void {
    entry.prev = this.newest;
    entry.next = null;
    if (this.newest === null) this.oldest = entry;
    else this.newest.next = entry;
    this.newest = entry;

    let address = this.addresses.get(entry.srcAddress);
    if (address === undefined) {
      address = { address: entry.srcAddress, count: 0, ports: new Map(), byCount: new CountIndex() };
      this.addresses.set(entry.srcAddress, address);
    }
    let source = address.ports.get(entry.srcPort);
    if (source === undefined) {
      source = { port: entry.srcPort, address, count: 0, oldest: null, newest: null };
      address.ports.set(entry.srcPort, source);
    }
    entry.source = source;
    entry.sourcePrev = source.newest;
    entry.sourceNext = null;
    if (source.newest === null) source.oldest = entry;
    else source.newest.sourceNext = entry;
    source.newest = entry;
    source.count++;
    address.byCount.raised(source);
    address.count++;
    this.byCount.raised(address);
  }

  private unlink(entry: Entry): void {
    if (entry.prev === null) this.oldest = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === null) this.newest = entry.prev;
    else entry.next.prev = entry.prev;
    entry.prev = entry.next = null;

    const source = entry.source!;
    if (entry.sourcePrev === null) source.oldest = entry.sourceNext;
    else entry.sourcePrev.sourceNext = entry.sourceNext;
    if (entry.sourceNext === null) source.newest = entry.sourcePrev;
    else entry.sourceNext.sourcePrev = entry.sourcePrev;
    entry.sourcePrev = entry.sourceNext = null;
    entry.source = null;
    const address = source.address;
    source.count--;
    address.byCount.lowered(source);
    if (source.count === 0) address.ports.delete(source.port);
    address.count--;
    this.byCount.lowered(address);
    if (address.count === 0) this.addresses.delete(address.address);
  }
}

function newEntry(): Entry {
  return {
    sessionId: 0,
    streamId: 0,
    initialTermId: 0,
    activeTermId: 0,
    termOffset: 0,
    termLength: 0,
    mtu: 0,
    flags: 0,
    srcAddress: '',
    srcPort: 0,
    deadlineNs: 0,
    source: null,
    prev: null,
    next: null,
    sourcePrev: null,
    sourceNext: null,
  };
}
