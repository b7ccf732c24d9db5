/**
 * Whole clusters of consensus members under a deterministic simulation from one seed: a network
 * that loses, duplicates, delays and reorders messages and can be partitioned (one way or both),
 * members that crash at any moment and restart with what their log persisted, and clients that
 * offer commands to whoever leads. After every event the invariants are checked:
 *
 * - at most one leader per term;
 * - a committed entry never changes (every member that applies a position applies the same
 *   entry there);
 * - every member applies the log in order from the start, so its applied log is a prefix of the
 *   committed log, and its service (a hash chain over what it applied) is in the same state as
 *   every other member's at the same position.
 *
 * A violation throws an Error naming the seed, the simulated time and what broke, so a failing
 * seed can be replayed exactly.
 */
import { SeededPrng } from '../../src/env/prng.js';
import { MemoryConsensusLog, type LogEntry } from '../../src/cluster/consensus/consensus-log.js';
import { ConsensusMember, TERM_START_MARKER, type ConsensusSettings } from '../../src/cluster/consensus/consensus-member.js';
import type { ConsensusMessage } from '../../src/cluster/consensus/consensus-messages.js';

const MS = 1_000_000;

export interface ConsensusSimOptions {
  readonly seed: number;
  readonly members: number;
  /** Simulated time to run with faults, in ms. */
  readonly durationMs: number;
  /** Then faults stop and the cluster must elect a leader and commit a last command within this, in ms. */
  readonly recoveryMs?: number;
  readonly settings?: Partial<ConsensusSettings>;
  /** Probability a message is lost, duplicated. */
  readonly loss?: number;
  readonly duplication?: number;
  /** Mean time between fault events (crash, restart, partition, heal), in ms. */
  readonly faultIntervalMs?: number;
  /** Every this many ms a client offers a command to the leader. */
  readonly commandIntervalMs?: number;
}

export interface ConsensusSimResult {
  readonly seed: number;
  readonly committedEntries: number;
  readonly committedCommands: number;
  readonly leadersElected: number;
  readonly crashes: number;
  readonly restarts: number;
  readonly partitions: number;
  readonly asymmetricPartitions: number;
  readonly messagesLost: number;
  readonly messagesDuplicated: number;
  readonly events: number;
}

interface SimMember {
  readonly id: number;
  readonly log: MemoryConsensusLog;
  member: ConsensusMember | null;
  /** Hash chain over applied entries, and the position it covers. */
  state: number;
  applied: number;
}

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly to: number;
  readonly from: number;
  readonly message: ConsensusMessage;
}

/** A binary heap of pending deliveries by (time, sequence). */
class Queue {
  private readonly items: Pending[] = [];
  get size(): number {
    return this.items.length;
  }
  push(p: Pending): void {
    const a = this.items;
    a.push(p);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (less(a[parent]!, a[i]!)) break;
      [a[parent], a[i]] = [a[i]!, a[parent]!];
      i = parent;
    }
  }
  peek(): Pending | undefined {
    return this.items[0];
  }
  pop(): Pending | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l]!, a[m]!)) m = l;
        if (r < a.length && less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}

function less(a: Pending, b: Pending): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function hashStep(state: number, entry: LogEntry): number {
  let h = (state ^ entry.termId ^ entry.position) >>> 0;
  for (let i = 0; i < entry.data.length; i++) h = Math.imul(h ^ entry.data[i]!, 16777619) >>> 0;
  return h;
}

export function runConsensusSim(options: ConsensusSimOptions): ConsensusSimResult {
  const { seed, members: n, durationMs } = options;
  const recoveryMs = options.recoveryMs ?? 60_000;
  const loss = options.loss ?? 0.02;
  const duplication = options.duplication ?? 0.01;
  const faultIntervalMs = options.faultIntervalMs ?? 3000;
  const commandIntervalMs = options.commandIntervalMs ?? 50;
  const settings: Partial<ConsensusSettings> = { startupCanvassTimeoutNs: 10_000 * MS, leaderHeartbeatTimeoutNs: 2000 * MS, ...options.settings };
  const prng = new SeededPrng(seed);
  const netRandom = prng.fork();
  const faultRandom = prng.fork();
  const ids = Array.from({ length: n }, (_, i) => i);
  const queue = new Queue();
  let seq = 0;
  let now = 0;
  const blocked = new Set<string>(); // `${from}>${to}`
  const committed = new Map<number, { termId: number; hash: number; end: number }>();
  const statesAt = new Map<number, number>();
  const leaders = new Map<number, number>();
  const stats = { crashes: 0, restarts: 0, partitions: 0, asymmetricPartitions: 0, messagesLost: 0, messagesDuplicated: 0, events: 0 };
  let faultsOn = true;
  let offered = 0;
  const fail = (what: string): never => {
    throw new Error(`consensus sim seed=${seed} members=${n} at ${(now / MS).toFixed(1)} ms: ${what}`);
  };

  const sims: SimMember[] = ids.map((id) => ({ id, log: new MemoryConsensusLog(), member: null, state: 0, applied: 0 }));
  const start = (sim: SimMember): void => {
    sim.state = 0;
    sim.applied = 0;
    const memberPrng = prng.fork();
    sim.member = new ConsensusMember(sim.id, ids, sim.log, {
      random: memberPrng,
      send: (to, message) => send(sim.id, to, message),
      onCommitted: (entry) => apply(sim, entry),
    }, now, settings);
  };
  const send = (from: number, to: number, message: ConsensusMessage): void => {
    if (faultsOn && blocked.has(`${from}>${to}`)) {
      stats.messagesLost++;
      return;
    }
    if (faultsOn && netRandom.nextBoolean(loss)) {
      stats.messagesLost++;
      return;
    }
    const copies = faultsOn && netRandom.nextBoolean(duplication) ? 2 : 1;
    if (copies === 2) stats.messagesDuplicated++;
    for (let c = 0; c < copies; c++) {
      // Mostly 0.05-2 ms; 5% up to 50 ms; while faults are on, 1% up to 3 s (a message that
      // arrives elections later).
      const delay = faultsOn && netRandom.nextBoolean(0.01) ? netRandom.nextInt(3000 * MS) : netRandom.nextBoolean(0.05) ? netRandom.nextInt(50 * MS) : 50_000 + netRandom.nextInt(2 * MS);
      queue.push({ at: now + delay, seq: seq++, to, from, message });
    }
  };
  const apply = (sim: SimMember, entry: LogEntry): void => {
    if (entry.position !== sim.applied) fail(`member ${sim.id} applied position ${entry.position} after ${sim.applied}: out of order`);
    sim.state = hashStep(sim.state, entry);
    sim.applied = entry.position + entry.length;
    const known = committed.get(entry.position);
    const hash = hashStep(0, entry);
    if (known === undefined) committed.set(entry.position, { termId: entry.termId, hash, end: sim.applied });
    else if (known.termId !== entry.termId || known.hash !== hash || known.end !== sim.applied) fail(`member ${sim.id} applied a different entry at committed position ${entry.position} (term ${entry.termId}, was term ${known.termId})`);
    const state = statesAt.get(sim.applied);
    if (state === undefined) statesAt.set(sim.applied, sim.state);
    else if (state !== sim.state) fail(`member ${sim.id}'s service differs from another member's at position ${sim.applied}`);
  };
  const checkLeaders = (): void => {
    for (const sim of sims) {
      const m = sim.member;
      if (m === null || m.role !== 'LEADER') continue;
      const known = leaders.get(m.leadershipTermId);
      if (known === undefined) leaders.set(m.leadershipTermId, sim.id);
      else if (known !== sim.id) fail(`two leaders in term ${m.leadershipTermId}: members ${known} and ${sim.id}`);
    }
  };
  const leader = (): ConsensusMember | null => {
    let best: ConsensusMember | null = null;
    for (const sim of sims) {
      const m = sim.member;
      if (m !== null && m.role === 'LEADER' && m.electionState === 'CLOSED' && (best === null || m.leadershipTermId > best.leadershipTermId)) best = m;
    }
    return best;
  };
  const fault = (): void => {
    const kind = faultRandom.nextInt(5);
    const victim = sims[faultRandom.nextInt(n)]!;
    if (kind === 0 && victim.member !== null) {
      // A crash: everything volatile is gone; the log stays as persisted.
      victim.member = null;
      stats.crashes++;
    } else if (kind === 1) {
      for (const sim of sims) if (sim.member === null) {
        start(sim);
        stats.restarts++;
      }
    } else if (kind === 2) {
      // Isolate a member both ways.
      for (const other of ids) if (other !== victim.id) {
        blocked.add(`${victim.id}>${other}`);
        blocked.add(`${other}>${victim.id}`);
      }
      stats.partitions++;
    } else if (kind === 3) {
      // One way only: the victim hears others but is not heard (or the reverse).
      const outbound = faultRandom.nextBoolean(0.5);
      for (const other of ids) if (other !== victim.id) blocked.add(outbound ? `${victim.id}>${other}` : `${other}>${victim.id}`);
      stats.asymmetricPartitions++;
    } else {
      blocked.clear();
    }
  };

  for (const sim of sims) start(sim);
  const tickNs = 10 * MS;
  let nextTick = 0;
  let nextFault = faultIntervalMs * MS;
  let nextCommand = commandIntervalMs * MS;
  const endFaults = durationMs * MS;
  const end = endFaults + recoveryMs * MS;
  let finalCommand: number | null = null;
  let finalTerm = -1;
  while (now < end) {
    const p = queue.peek();
    const next = Math.min(nextTick, nextFault, nextCommand, p === undefined ? Infinity : p.at);
    now = next;
    stats.events++;
    if (p !== undefined && p.at === now) {
      queue.pop();
      const target = sims[p.to]!.member;
      try {
        target?.onMessage(p.message, now);
      } catch (error) {
        fail(`member ${p.to} failed on ${p.message.type} from ${p.from}: ${(error as Error).message}`);
      }
    } else if (now === nextTick) {
      nextTick += tickNs;
      for (const sim of sims) {
        try {
          sim.member?.doWork(now);
        } catch (error) {
          fail(`member ${sim.id} failed in its duty cycle: ${(error as Error).message}`);
        }
      }
    } else if (now === nextFault) {
      nextFault += Math.max(MS, Math.round(faultRandom.nextDouble() * 2 * faultIntervalMs * MS));
      if (now >= endFaults) {
        if (faultsOn) {
          faultsOn = false;
          blocked.clear();
          for (const sim of sims) if (sim.member === null) {
            start(sim);
            stats.restarts++;
          }
        }
      } else {
        fault();
      }
    } else {
      nextCommand += commandIntervalMs * MS;
      const l = leader();
      if (l !== null) {
        const data = new Uint8Array(8 + (offered % 24));
        new DataView(data.buffer).setFloat64(0, offered++, true);
        const position = l.offer(data);
        if (!faultsOn && finalCommand === null && position !== null) {
          finalCommand = position;
          finalTerm = l.leadershipTermId;
        }
      }
    }
    checkLeaders();
    if (finalCommand !== null && sims.every((s) => s.member !== null && s.applied > finalCommand!)) break;
  }
  if (finalCommand === null) fail(`no leader accepted a command within ${recoveryMs} ms after the faults stopped (roles: ${sims.map((s) => `${s.id}:${s.member?.role}/${s.member?.electionState}/t${s.member?.leadershipTermId}`).join(' ')})`);
  for (const sim of sims) {
    if (sim.applied <= finalCommand!) fail(`member ${sim.id} did not apply the command at ${finalCommand} of term ${finalTerm} within ${recoveryMs} ms after the faults stopped (applied ${sim.applied}, ${sim.member?.role}/${sim.member?.electionState})`);
  }
  let commands = 0;
  for (const sim of sims) {
    if (sim.applied === Math.max(...sims.map((s) => s.applied))) {
      for (let pos = 0; pos < sim.applied; ) {
        const e = sim.log.entryAt(pos);
        if (e === undefined) break;
        if (e.data[0] !== TERM_START_MARKER || e.data.length !== 9) commands++;
        pos = e.position + e.length;
      }
      break;
    }
  }
  return { seed, committedEntries: committed.size, committedCommands: commands, leadersElected: leaders.size, ...stats };
}
