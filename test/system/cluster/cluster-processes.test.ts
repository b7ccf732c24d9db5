/**
 * Cluster members as processes (`skein cluster node`), with real kills: three members elect a
 * leader; a ClusterClient in this process opens a session and its commands are answered; the
 * leader's process is killed with SIGKILL and the client follows the new leader on its session;
 * SIGTERM then ends the two others, each closing its consensus module, archive and driver and
 * exiting 0 with nothing on stderr but its start line. And `skein cluster start --members 3`
 * starts three such processes, `skein cluster kv` answers through them, and SIGTERM stops them all.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Skein } from '../../../src/skein.js';
import { ClusterClient } from '../../../src/cluster/cluster-client.js';
import { decodeKv, encodeKv, type KvAnswer } from '../../../src/cluster/service/kv-service.js';
import { SeededPrng } from '../../../src/env/prng.js';
import { startSkein, stopAll, type StartedProcess } from '../../support/processes.js';
import { freeUdpPort, waitFor } from '../../support/wait.js';

after(() => stopAll());

async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const FAST = ['--test-profile', '--leader-heartbeat-timeout-ms', '1500', '--election-timeout-ms', '300', '--startup-canvass-timeout-ms', '3000'];

/** Three members' endpoints on free loopback ports, in `root`. */
interface ProcessCluster {
  readonly root: string;
  readonly specs: readonly { readonly id: number; readonly ingress: string; readonly consensus: string }[];
  /** Aeron's members string. */
  readonly clusterMembers: string;
  /** `id=host:port,…` for clients and the tool. */
  readonly ingress: string;
  dirOf(id: number): string;
  /** Starts member `id` (`round` names its Skein directory), with FAST timeouts and `extra` flags. */
  start(id: number, round?: number, extra?: readonly string[]): StartedProcess;
}

async function processCluster(prefix: string): Promise<ProcessCluster> {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const specs: { id: number; ingress: string; consensus: string }[] = [];
  for (let id = 0; id < 3; id++) specs.push({ id, ingress: `127.0.0.1:${await freeUdpPort()}`, consensus: `127.0.0.1:${await freeUdpPort()}` });
  const clusterMembers = specs.map((m) => `${m.id},${m.ingress},${m.consensus}`).join('|');
  const dirOf = (id: number): string => join(root, `member-${id}`);
  return {
    root, specs, clusterMembers, dirOf,
    ingress: specs.map((m) => `${m.id}=${m.ingress}`).join(','),
    start: (id, round = 0, extra = []) =>
      startSkein(['cluster', 'node', '--member-id', String(id), '--cluster-members', clusterMembers, '--cluster-dir', dirOf(id), '--dir', join(root, `skein-${round}-${id}`), ...extra, ...FAST]),
  };
}

/** The member's status, as `skein cluster-tool <dir> describe` prints it. */
async function describeMember(dir: string): Promise<{ state: string; snapshotsStored: number; recoveredPosition: number }> {
  const describe = startSkein(['cluster-tool', dir, 'describe']);
  await describe.waitForExit(10_000);
  return (JSON.parse(describe.stdout) as { status: { state: string; snapshotsStored: number; recoveredPosition: number } }).status;
}

/** Whatever happened: the client and its Skein closed, every process still running killed, the directory removed. */
async function tearDown(client: ClusterClient | null, skein: Skein, root: string): Promise<void> {
  await client?.close();
  await skein.close();
  await stopAll();
  rmSync(root, { recursive: true, force: true });
}

/** SIGTERM to every member; each exits 0. */
async function stopMembers(nodes: readonly StartedProcess[]): Promise<void> {
  for (const n of nodes) n.signal('SIGTERM');
  for (const n of nodes) assert.equal((await n.waitForExit(15_000)).code, 0, n.describe());
}

test('members as processes: a leader is elected, a client is answered, the leader is SIGKILLed and the client follows, SIGTERM ends the rest cleanly', { timeout: 120_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'skein-cluster-proc-'));
  const specs: { id: number; ingress: string; consensus: string }[] = [];
  for (let id = 0; id < 3; id++) specs.push({ id, ingress: `127.0.0.1:${await freeUdpPort()}`, consensus: `127.0.0.1:${await freeUdpPort()}` });
  const clusterMembers = specs.map((m) => `${m.id},${m.ingress},${m.consensus}`).join('|');
  const nodes: StartedProcess[] = [];
  const skein = Skein.launch({ testProfile: true, seed: 801, dir: join(root, 'client') });
  let client: ClusterClient | null = null;
  try {
    for (const m of specs) {
      nodes.push(startSkein(['cluster', 'node', '--member-id', String(m.id), '--cluster-members', clusterMembers, '--cluster-dir', join(root, `member-${m.id}`), '--dir', join(root, `skein-${m.id}`), ...FAST]));
    }
    for (const n of nodes) await n.waitForLine(/"event":"started"/, 20_000, 'stdout');
    const leaderLine = await Promise.any(nodes.map((n) => n.waitForLine(/"role":"LEADER"/, 30_000, 'stdout')));
    const leaderId = (JSON.parse(leaderLine) as { memberId: number }).memberId;
    client = await ClusterClient.connect(skein.client, { ingressEndpoints: specs.map((m) => m.ingress), random: new SeededPrng(3) });
    assert.equal(client.leaderId, leaderId);
    const c = client;
    const put = async (key: string): Promise<void> => {
      assert.deepEqual(decodeKv<KvAnswer>(await c.send(encodeKv({ op: 'put', key, value: key }))), { ok: true });
    };
    for (let i = 0; i < 20; i++) await put(`a${i}`);
    const session = client.sessionId;

    // SIGKILL the leader's process.
    nodes[leaderId]!.signal('SIGKILL');
    await nodes[leaderId]!.waitForExit(10_000);
    await waitFor(() => c.state === 'CONNECTED' && c.leaderId !== leaderId, 30_000, 'the client on the new leader');
    assert.equal(c.sessionId, session, 'the same session');
    for (let i = 0; i < 20; i++) await put(`b${i}`);
    assert.deepEqual(decodeKv<KvAnswer>(await c.send(encodeKv({ op: 'get', key: 'a7' }))), { value: 'a7' }, 'what was answered before the kill is there');
    await client.close();
    client = null;

    // SIGTERM: each remaining member closes consensus module, archive and driver, and exits 0.
    for (const [id, n] of nodes.entries()) {
      if (id === leaderId) continue;
      n.signal('SIGTERM');
      assert.deepEqual(await n.waitForExit(15_000), { code: 0, signal: null }, n.describe());
      const summary = n.lastJson<{ memberId: number; failure: string | null; commitPosition: number }>();
      assert.equal(summary.memberId, id);
      assert.equal(summary.failure, null);
      assert.ok(summary.commitPosition > 0);
      assert.equal(n.stderr.trim(), `skein cluster node: member ${id} of 3 in ${join(root, `member-${id}`)}`, 'no warning or error on stderr');
    }
  } finally {
    await tearDown(client, skein, root);
  }
});

test('skein cluster start --members 3 starts three member processes that elect a leader, skein cluster kv gets, puts and compare-and-sets through them, and SIGTERM stops them', { timeout: 60_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'skein-cluster-start-'));
  try {
    const start = startSkein(['cluster', 'start', '--members', '3', '--dir', root, '--test-profile']);
    const started = JSON.parse(await start.waitForLine(/"event":"started","members"/, 20_000, 'stdout')) as { members: { id: number; pid: number }[]; ingressEndpoints: string };
    assert.equal(started.members.length, 3);
    assert.match(started.ingressEndpoints, /^0=127\.0\.0\.1:\d+,1=127\.0\.0\.1:\d+,2=127\.0\.0\.1:\d+$/);
    await start.waitForLine(/"role":"LEADER"/, 30_000, 'stdout');
    // skein cluster kv against it, with the endpoints it printed: each command answered through the log.
    const kv = async (...args: string[]): Promise<{ code: number | null; answer: Record<string, unknown> | null; stderr: string }> => {
      const p = startSkein(['cluster', 'kv', '--ingress', started.ingressEndpoints, ...args]);
      const { code } = await p.waitForExit(20_000);
      return { code, answer: p.stdout.trim() === '' ? null : (JSON.parse(p.stdout) as Record<string, unknown>), stderr: p.stderr };
    };
    const pick = (r: { answer: Record<string, unknown> | null }): Record<string, unknown> => {
      const { leaderId, leadershipTermId, ...rest } = r.answer!;
      assert.equal(typeof leaderId, 'number');
      assert.equal(typeof leadershipTermId, 'number');
      return rest;
    };
    const absent = await kv('get', 'colour');
    assert.equal(absent.code, 0, absent.stderr);
    assert.deepEqual(pick(absent), { op: 'get', key: 'colour', value: null });
    assert.deepEqual(pick(await kv('put', 'colour', 'blue')), { op: 'put', key: 'colour', ok: true });
    assert.deepEqual(pick(await kv('get', 'colour')), { op: 'get', key: 'colour', value: 'blue' });
    assert.deepEqual(pick(await kv('cas', 'colour', 'red', 'green')), { op: 'cas', key: 'colour', ok: false }, 'not swapped: the value is blue');
    assert.deepEqual(pick(await kv('cas', 'colour', 'blue', 'green')), { op: 'cas', key: 'colour', ok: true });
    assert.deepEqual(pick(await kv('cas', '--absent', 'colour', 'grey')), { op: 'cas', key: 'colour', ok: false }, 'not swapped: the key is there');
    assert.deepEqual(pick(await kv('get', 'colour')), { op: 'get', key: 'colour', value: 'green' });
    const badArgs = await kv('put', 'colour');
    assert.equal(badArgs.code, 2);
    assert.match(badArgs.stderr, /put takes <key> and <value> \(2 arguments\), got 1/);
    const badOp = await kv('delete', 'colour');
    assert.equal(badOp.code, 2);
    assert.match(badOp.stderr, /unknown op 'delete': one of get, put, cas/);
    start.signal('SIGTERM');
    assert.deepEqual(await start.waitForExit(20_000), { code: 0, signal: null }, start.describe());
    assert.deepEqual(start.lastJson(), { event: 'stopped', exitCodes: [0, 0, 0] });
    for (const m of started.members) assert.throws(() => process.kill(m.pid, 0), 'every member process ended');
    assert.equal((await Promise.resolve(startSkein(['cluster', 'start', '--members', '2']).waitForExit(10_000))).code, 2, 'a cluster of 2 is refused');
    // With no member there, kv gives up at its deadline and names the members it tried.
    const gone = startSkein(['cluster', 'kv', '--ingress', started.ingressEndpoints, '--timeout-ms', '500', 'get', 'colour']);
    assert.equal((await gone.waitForExit(20_000)).code, 1, gone.describe());
    assert.match(gone.stderr, /no session within 500 ms \(members 0 at 127\.0\.0\.1:\d+, 1 at 127\.0\.0\.1:\d+, 2 at 127\.0\.0\.1:\d+\) \(ERR_SKEIN_RECONNECT_FAILED\)/);
  } finally {
    await stopAll();
    rmSync(root, { recursive: true, force: true });
  }
});

test('A003 with processes: skein cluster-tool shutdown snapshots, every member process terminates and exits by itself with no warning, error or open resource, and all restart from the snapshot', { timeout: 120_000 }, async () => {
  const cluster = await processCluster('skein-cluster-a003-');
  const { root, specs, dirOf } = cluster;
  const startNodes = (round: number): StartedProcess[] => specs.map((m) => cluster.start(m.id, round));
  const skein = Skein.launch({ testProfile: true, seed: 811, dir: join(root, 'client') });
  let client: ClusterClient | null = null;
  try {
    let nodes = startNodes(0);
    const leaderLine = await Promise.any(nodes.map((n) => n.waitForLine(/"role":"LEADER"/, 30_000, 'stdout')));
    const leaderId = (JSON.parse(leaderLine) as { memberId: number }).memberId;
    client = await ClusterClient.connect(skein.client, { ingressEndpoints: specs.map((m) => m.ingress), random: new SeededPrng(5) });
    for (let i = 0; i < 30; i++) assert.deepEqual(decodeKv<KvAnswer>(await client.send(encodeKv({ op: 'put', key: `k${i}`, value: `v${i}` }))), { ok: true });
    await client.close();
    client = null;

    // No member's process logged an error (read as skein errors reads them, through the tool).
    for (const id of [0, 1, 2]) {
      let errors: StartedProcess;
      const deadline = Date.now() + 10_000;
      for (;;) {
        errors = startSkein(['cluster-tool', dirOf(id), 'errors']);
        if ((await errors.waitForExit(10_000)).code === 0 || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.deepEqual(JSON.parse(errors.stdout), { memberId: id, pid: nodes[id]!.pid, errors: [], errorOverflowCount: 0 }, errors.describe());
    }
    // The tool asks a follower first (refused: not the leader), then the leader.
    const follower = (leaderId + 1) % 3;
    const refused = startSkein(['cluster-tool', dirOf(follower), 'shutdown']);
    assert.equal((await refused.waitForExit(15_000)).code, 1, refused.describe());
    assert.match(refused.stdout, /"ok":false.*is not the leader \(leader: \d\)/);
    const tool = startSkein(['cluster-tool', dirOf(leaderId), 'shutdown']);
    assert.equal((await tool.waitForExit(15_000)).code, 0, tool.describe());
    assert.match(tool.stdout, /"ok":true/);
    for (const [id, n] of nodes.entries()) {
      assert.deepEqual(await n.waitForExit(30_000), { code: 0, signal: null }, n.describe());
      assert.match(n.stdout, /"event":"terminated"/);
      const summary = n.lastJson<{ state: string; failure: string | null; openResources: string[] }>();
      assert.deepEqual([summary.state, summary.failure, summary.openResources], ['CLOSED', null, []], `member ${id}: ${n.describe()}`);
      assert.equal(n.stderr.trim(), `skein cluster node: member ${id} of 3 in ${dirOf(id)}`, `member ${id}: no warning or error`);
    }
    assert.match(nodes[leaderId]!.stdout, /"reason":"shut down: every member reached the termination position"/, 'every follower acknowledged: no termination timeout');
    const recording = startSkein(['cluster-tool', dirOf(leaderId), 'recording-log']);
    await recording.waitForExit(10_000);
    const entries = JSON.parse(recording.stdout) as { type: number; logPosition: number; serviceId: number }[];
    const snapshot = entries.filter((e) => e.serviceId === -1).at(-1)!;
    assert.ok(snapshot.logPosition > 0, recording.stdout);

    // All three start again from that snapshot and answer what was put before.
    nodes = startNodes(1);
    await Promise.any(nodes.map((n) => n.waitForLine(/"role":"LEADER"/, 30_000, 'stdout')));
    for (const id of [0, 1, 2]) assert.equal((await describeMember(dirOf(id))).recoveredPosition, snapshot.logPosition, `member ${id} started from the snapshot`);
    client = await ClusterClient.connect(skein.client, { ingressEndpoints: specs.map((m) => m.ingress), random: new SeededPrng(6) });
    assert.deepEqual(decodeKv<KvAnswer>(await client.send(encodeKv({ op: 'get', key: 'k29' }))), { value: 'v29' });
    await client.close();
    client = null;
    await stopMembers(nodes);
  } finally {
    await tearDown(client, skein, root);
  }
});

test('skein cluster demo: a leader, answered commands, the leader destroyed, the client on the new leader, a summary, exit 0', { timeout: 90_000 }, async () => {
  const demo = startSkein(['cluster', 'demo', '--commands', '50', '--test-profile']);
  assert.deepEqual(await demo.waitForExit(80_000), { code: 0, signal: null }, demo.describe());
  const summary = JSON.parse(demo.stdout.split('\n').find((l) => l.startsWith('{"commands"'))!) as { commands: number; answeredPerSecond: number; answeredPerSecondAfter: number; failoverMs: number; leaders: number[] };
  assert.equal(summary.commands, 100);
  assert.ok(summary.answeredPerSecond > 0 && summary.answeredPerSecondAfter > 0, demo.stdout);
  assert.match(demo.stdout, /the first command after the failure answered in \d+ ms/);
  assert.match(demo.stdout, /49 more answered one at a time by the two members left/);
  assert.notEqual(summary.leaders[0], summary.leaders[1], 'another member leads after the failure');
  assert.ok(summary.failoverMs > 0, demo.stdout);
  assert.match(demo.stdout, /the leader's driver \(member \d\) is destroyed/);
});

test('a leader process paused with SIGSTOP: the others elect a new leader and the client follows; resumed with SIGCONT, the old leader rejoins as a follower', { timeout: 120_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'skein-cluster-stop-'));
  const specs: { id: number; ingress: string; consensus: string }[] = [];
  for (let id = 0; id < 3; id++) specs.push({ id, ingress: `127.0.0.1:${await freeUdpPort()}`, consensus: `127.0.0.1:${await freeUdpPort()}` });
  const clusterMembers = specs.map((m) => `${m.id},${m.ingress},${m.consensus}`).join('|');
  const skein = Skein.launch({ testProfile: true, seed: 821, dir: join(root, 'client') });
  let client: ClusterClient | null = null;
  let paused: StartedProcess | null = null;
  try {
    const nodes = specs.map((m) => startSkein(['cluster', 'node', '--member-id', String(m.id), '--cluster-members', clusterMembers, '--cluster-dir', join(root, `member-${m.id}`), '--dir', join(root, `skein-${m.id}`), ...FAST]));
    const leaderId = (JSON.parse(await Promise.any(nodes.map((n) => n.waitForLine(/"role":"LEADER"/, 30_000, 'stdout')))) as { memberId: number }).memberId;
    client = await ClusterClient.connect(skein.client, { ingressEndpoints: specs.map((m) => m.ingress), random: new SeededPrng(8) });
    const c = client;
    for (let i = 0; i < 10; i++) await c.send(encodeKv({ op: 'put', key: `p${i}`, value: 'before' }));
    paused = nodes[leaderId]!;
    paused.signal('SIGSTOP');
    // A command sent while the leader is frozen is answered by the next leader (the client resends it there).
    assert.deepEqual(decodeKv<KvAnswer>(await c.send(encodeKv({ op: 'put', key: 'during', value: 'pause' }))), { ok: true });
    assert.notEqual(c.leaderId, leaderId, 'answered by another leader');
    paused.signal('SIGCONT');
    paused = null;
    const resumed = nodes[leaderId]!;
    await waitFor(() => /"role":"LEADER"[\s\S]*"role":"FOLLOWER"/.test(resumed.stdout), 30_000, 'the old leader a follower after its pause');
    assert.deepEqual(decodeKv<KvAnswer>(await c.send(encodeKv({ op: 'get', key: 'during' }))), { value: 'pause' });
    await c.close();
    client = null;
    for (const n of nodes) n.signal('SIGTERM');
    for (const n of nodes) assert.equal((await n.waitForExit(15_000)).code, 0, n.describe());
  } finally {
    paused?.signal('SIGCONT');
    await client?.close();
    await skein.close();
    await stopAll();
    rmSync(root, { recursive: true, force: true });
  }
});

test('skein cluster-tool suspend and resume: every member says SUSPENDED, a command waits (its session outliving the session timeout) and snapshots are refused; after resume it is answered once and every member is ACTIVE', { timeout: 120_000 }, async () => {
  const cluster = await processCluster('skein-cluster-suspend-');
  const { root, specs, dirOf } = cluster;
  const nodes = specs.map((m) => cluster.start(m.id, 0, ['--session-timeout-ms', '2000']));
  const skein = Skein.launch({ testProfile: true, seed: 812, dir: join(root, 'client') });
  let client: ClusterClient | null = null;
  const states = async (): Promise<string[]> => Promise.all([0, 1, 2].map(async (id) => (await describeMember(dirOf(id))).state));
  const tool = async (id: number, command: string): Promise<{ code: number | null; stdout: string }> => {
    const p = startSkein(['cluster-tool', dirOf(id), command]);
    const status = await p.waitForExit(15_000);
    return { code: status.code, stdout: p.stdout };
  };
  try {
    const leaderLine = await Promise.any(nodes.map((n) => n.waitForLine(/"role":"LEADER"/, 30_000, 'stdout')));
    const leaderId = (JSON.parse(leaderLine) as { memberId: number }).memberId;
    client = await ClusterClient.connect(skein.client, { ingressEndpoints: specs.map((m) => m.ingress), random: new SeededPrng(7) });
    assert.deepEqual(decodeKv<KvAnswer>(await client.send(encodeKv({ op: 'put', key: 'n', value: '0' }))), { ok: true });
    const sessionId = client.sessionId;

    assert.equal((await tool((leaderId + 1) % 3, 'suspend')).code, 1, 'a follower refuses');
    const suspended = await tool(leaderId, 'suspend');
    assert.equal(suspended.code, 0, suspended.stdout);
    await until(async () => (await states()).every((s) => s === 'SUSPENDED'), 15_000, 'every member SUSPENDED');
    // A command now waits: nothing is taken from the ingress while suspended.
    let answer: KvAnswer | null = null;
    const pending = client.send(encodeKv({ op: 'cas', key: 'n', expected: '0', value: '1' })).then((bytes) => (answer = decodeKv<KvAnswer>(bytes)));
    const snapshot = await tool(leaderId, 'snapshot');
    assert.equal(snapshot.code, 1);
    assert.match(snapshot.stdout, /refused in state SUSPENDED/);
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(answer, null, 'no answer while suspended');
    assert.equal(client.state, 'CONNECTED');

    const resumed = await tool(leaderId, 'resume');
    assert.equal(resumed.code, 0, resumed.stdout);
    await pending;
    // Sent again while it waited (the resends backing off), the command was applied once: the compare-and-set succeeded.
    assert.deepEqual(answer, { ok: true });
    assert.deepEqual(decodeKv<KvAnswer>(await client.send(encodeKv({ op: 'get', key: 'n' }))), { value: '1' });
    assert.equal(client.sessionId, sessionId, 'the same session: not timed out by the suspension');
    await until(async () => (await states()).every((s) => s === 'ACTIVE'), 15_000, 'every member ACTIVE');
    await client.close();
    client = null;
    await stopMembers(nodes);
  } finally {
    await tearDown(client, skein, root);
  }
});

test('over the network (a member configured by file): cluster-tool --ingress says who leads and asks for a snapshot (an AdminRequest), which every member takes; a client with in-order answers (as for an Aeron cluster) gets each answer matched to its command', { timeout: 120_000 }, async () => {
  const cluster = await processCluster('skein-cluster-network-tool-');
  const { root, specs, clusterMembers, ingress, dirOf } = cluster;
  // Member 0 takes its settings from a config file, the others from flags.
  const config = join(root, 'member-0.json');
  writeFileSync(config, JSON.stringify({ memberId: 0, clusterMembers, clusterDir: dirOf(0), leaderHeartbeatTimeoutMs: 1500, electionTimeoutMs: 300, startupCanvassTimeoutMs: 3000 }));
  const nodes = specs.map((m) => (m.id === 0 ? startSkein(['cluster', 'node', '--config', config, '--dir', join(root, 'skein-0'), '--test-profile']) : cluster.start(m.id)));
  const skein = Skein.launch({ testProfile: true, seed: 813, dir: join(root, 'client') });
  let client: ClusterClient | null = null;
  const snapshotsStored = async (): Promise<number[]> => Promise.all([0, 1, 2].map(async (id) => (await describeMember(dirOf(id))).snapshotsStored));
  try {
    const leaderLine = await Promise.any(nodes.map((n) => n.waitForLine(/"role":"LEADER"/, 30_000, 'stdout')));
    const leaderId = (JSON.parse(leaderLine) as { memberId: number }).memberId;
    const leader = startSkein(['cluster-tool', '--ingress', ingress, 'leader']);
    assert.equal((await leader.waitForExit(30_000)).code, 0, leader.describe());
    assert.equal((JSON.parse(leader.stdout) as { leaderId: number }).leaderId, leaderId);
    assert.deepEqual(await snapshotsStored(), [0, 0, 0]);
    const snapshot = startSkein(['cluster-tool', '--ingress', ingress, 'snapshot']);
    assert.equal((await snapshot.waitForExit(30_000)).code, 0, snapshot.describe());
    assert.match(snapshot.stdout, new RegExp(`"ok":true,"detail":"snapshot begun by leader ${leaderId}`));
    await until(async () => (await snapshotsStored()).every((n) => n === 1), 15_000, 'a snapshot on every member');
    const refused = startSkein(['cluster-tool', '--ingress', ingress, 'describe']);
    assert.equal((await refused.waitForExit(10_000)).code, 2, refused.describe());
    assert.match(refused.stderr, /'describe' over the network: only leader and snapshot/);

    client = await ClusterClient.connect(skein.client, { ingressEndpoints: specs.map((m) => m.ingress), random: new SeededPrng(8), answers: 'in-order' });
    const c = client;
    const sent: Promise<KvAnswer>[] = [];
    for (let i = 0; i < 40; i++) {
      sent.push(c.send(encodeKv({ op: 'put', key: `k${i}`, value: `v${i}` })).then((b) => decodeKv<KvAnswer>(b)));
      sent.push(c.send(encodeKv({ op: 'get', key: `k${i}` })).then((b) => decodeKv<KvAnswer>(b)));
    }
    const answers = await Promise.all(sent);
    for (let i = 0; i < 40; i++) assert.deepEqual([answers[2 * i], answers[2 * i + 1]], [{ ok: true }, { value: `v${i}` }], `command pair ${i}`);
    await client.close();
    client = null;
    await stopMembers(nodes);
  } finally {
    await tearDown(client, skein, root);
  }
});
