/** Command-line handling: help texts, bad options (exit 2 naming the option), version. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startSkein, stopAll } from '../../support/processes.js';

async function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; describe: string }> {
  const p = startSkein(args);
  const status = await p.waitForExit(10_000);
  return { code: status.code, stdout: p.stdout, stderr: p.stderr, describe: p.describe() };
}

const COMMANDS = ['demo', 'pub', 'sub', 'ping', 'pong', 'stat', 'errors'];

const BAD: { args: string[]; option: string; value?: string }[] = [
  { args: ['pub', '--size', 'abc'], option: '--size', value: 'abc' },
  { args: ['pub', '--size', '4'], option: '--size', value: '4' },
  { args: ['pub', '--count', '-1'], option: '--count', value: '-1' },
  { args: ['pub', '--rate', '1.5'], option: '--rate', value: '1.5' },
  { args: ['pub', '--term-length', '100000'], option: '--term-length', value: '100000' },
  { args: ['pub', '--term-length', '2g'], option: '--term-length', value: '2g' },
  { args: ['pub', '--channel', 'udp://localhost:1'], option: '--channel', value: 'udp://localhost:1' },
  { args: ['sub', '--stream', 'x'], option: '--stream', value: 'x' },
  { args: ['sub', '--stream', '4294967296'], option: '--stream', value: '4294967296' },
  { args: ['sub', '--faults', 'loss=2'], option: '--faults', value: 'loss=2' },
  { args: ['sub', '--send-faults', 'jitter=0.1'], option: '--send-faults', value: 'jitter=0.1' },
  { args: ['sub', '--receive-faults', 'loss'], option: '--receive-faults', value: 'loss' },
  { args: ['sub', '--seed', 'abc'], option: '--seed', value: 'abc' },
  { args: ['sub', '--timeout-ms', '-5'], option: '--timeout-ms', value: '-5' },
  { args: ['ping', '--size', '8'], option: '--size', value: '8' },
  { args: ['ping', '--pong-channel', 'aeron:tcp?endpoint=x'], option: '--pong-channel', value: 'aeron:tcp?endpoint=x' },
  { args: ['pong', '--pong-stream', '1e3'], option: '--pong-stream', value: '1e3' },
  { args: ['stat', '--pid', 'none'], option: '--pid', value: 'none' },
  { args: ['errors', '--pid', '0'], option: '--pid', value: '0' },
  { args: ['demo', '--duration-ms', '0'], option: '--duration-ms', value: '0' },
  { args: ['pub', '--no-such-option'], option: '--no-such-option' },
];

describe('skein command line', { timeout: 60_000, concurrency: 4 }, () => {
  after(() => stopAll());

  for (const command of COMMANDS) {
    it(`${command} --help describes the command and its defaults`, async () => {
      const r = await run([command, '--help']);
      assert.equal(r.code, 0, r.describe);
      assert.match(r.stdout, new RegExp(`^Usage: skein ${command} \\[options\\]`, 'm'));
      assert.ok(r.stdout.split('\n').length > 5, r.stdout);
      if (command !== 'stat' && command !== 'errors') assert.match(r.stdout, /\(default: /);
    });
  }

  it('--help lists every command', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0, r.describe);
    for (const command of COMMANDS) assert.match(r.stdout, new RegExp(`^  ${command} \\[options\\]`, 'm'));
  });

  it('pub --help names the defaults of the Aeron samples', async () => {
    const r = await run(['pub', '--help']);
    assert.match(r.stdout, /aeron:udp\?endpoint=localhost:20121/);
    assert.match(r.stdout, /\(default: 1001\)/);
    assert.match(r.stdout, /\(default: 10000000\)/);
  });

  for (const bad of BAD) {
    it(`rejects ${bad.args.join(' ')} with exit code 2 naming ${bad.option}`, async () => {
      const r = await run(bad.args);
      assert.equal(r.code, 2, r.describe);
      const firstLine = r.stderr.split('\n')[0]!;
      assert.ok(firstLine.includes(bad.option), r.describe);
      if (bad.value !== undefined) assert.ok(firstLine.includes(`'${bad.value}'`), r.describe);
      assert.equal(r.stdout, '');
    });
  }

  it('cluster node --config: unknown settings, bad values and missing required settings exit 2 naming them; flags win over the file', async () => {
    const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'skein-config-'));
    try {
      const file = (name: string, text: string): string => {
        writeFileSync(join(dir, name), text);
        return join(dir, name);
      };
      const cases: [string, RegExp][] = [
        [file('unknown.json', '{"memberId": 0, "clusterMember": "x"}'), /unknown setting 'clusterMember'; the settings are .*clusterMembers/],
        [file('bad.json', '{"memberId": -1, "clusterMembers": "0,127.0.0.1:1,127.0.0.1:2"}'), /memberId=-1:/],
        [file('backlog.json', '{"memberId": 0, "clusterMembers": "0,127.0.0.1:1,127.0.0.1:2", "maxEgressBacklogBytes": 100}'), /maxEgressBacklogBytes=100:/],
        [file('retained.json', '{"memberId": 0, "clusterMembers": "0,127.0.0.1:1,127.0.0.1:2", "retainedLogBytes": -1}'), /retainedLogBytes=-1:/],
        [file('fragments.json', '{"memberId": 0, "clusterMembers": "0,127.0.0.1:1,127.0.0.1:2", "ingressFragmentLimit": 0}'), /ingressFragmentLimit=0:/],
        [file('text.json', 'memberId: 0'), /not JSON/],
        [file('missing.json', '{"clusterMembers": "0,127.0.0.1:1,127.0.0.1:2"}'), /missing --member-id \(or memberId in --config\)/],
        [join(dir, 'absent.json'), /cannot read it/],
      ];
      for (const [path, message] of cases) {
        const r = await run(['cluster', 'node', '--config', path]);
        assert.equal(r.code, 2, r.describe);
        assert.match(r.stderr, message, r.describe);
      }
      // A bad value in the file is not reached when the command line gives that setting.
      const overridden = await run(['cluster', 'node', '--config', join(dir, 'bad.json'), '--member-id', '0', '--log-storage', 'tape']);
      assert.equal(overridden.code, 1, overridden.describe);
      assert.match(overridden.stderr, /--log-storage tape: archive or file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects an unknown command with exit code 2', async () => {
    const r = await run(['publish']);
    assert.equal(r.code, 2, r.describe);
    assert.match(r.stderr, /unknown command 'publish'/);
  });

  it('prints its version', async () => {
    const r = await run(['--version']);
    assert.equal(r.code, 0, r.describe);
    assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
  });
});
