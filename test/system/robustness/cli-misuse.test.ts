import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freeUdpPort, startSkein, stopAll } from '../../support/processes.js';

/**
 * Misuse through the `skein` command: a bad SKEIN_* variable or a bad channel parameter ends the
 * command at once with exit code 2 and one line naming the variable or parameter, the bad value,
 * what is allowed and the stable error code; a port that is already taken ends it with exit code 1
 * and ERR_SKEIN_TRANSPORT_BIND_FAILED. Nothing waits for a timeout.
 */

after(() => stopAll());

const BOUND_MS = 10_000;

async function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string; describe: string; elapsedMs: number }> {
  const startMs = Date.now();
  const p = startSkein(args, { env });
  const status = await p.waitForExit(BOUND_MS);
  return { code: status.code, stderr: p.stderr, describe: p.describe(), elapsedMs: Date.now() - startMs };
}

describe('skein command misuse', { timeout: 60_000, concurrency: 2 }, () => {
  const BAD_ENV: { env: Record<string, string>; command: string; names: string[] }[] = [
    { env: { SKEIN_TERM_BUFFER_LENGTH: '1000' }, command: 'pub', names: ['SKEIN_TERM_BUFFER_LENGTH=1000', 'a power of two in [65536, 1073741824] bytes'] },
    { env: { SKEIN_MTU_LENGTH: '100' }, command: 'pub', names: ['SKEIN_MTU_LENGTH=100', 'multiple of 32'] },
    { env: { SKEIN_IMAGE_LIVENESS_TIMEOUT: 'soon' }, command: 'sub', names: ['SKEIN_IMAGE_LIVENESS_TIMEOUT=soon', 'ns, us, ms or s'] },
    { env: { SKEIN_CLIENTS_MAX: '0' }, command: 'sub', names: ['SKEIN_CLIENTS_MAX=0', 'an integer in [1, 65536]'] },
    { env: { SKEIN_MAX_RESEND: '1000' }, command: 'pub', names: ['SKEIN_MAX_RESEND=1000', 'an integer in [1, 256]'] },
  ];
  for (const bad of BAD_ENV) {
    const [name] = Object.keys(bad.env);
    it(`skein ${bad.command} with ${name}=${bad.env[name!]} exits 2 naming the variable, value and range`, async () => {
      const r = await run([bad.command, '--count', '1'], bad.env);
      assert.equal(r.code, 2, r.describe);
      assert.match(r.stderr, /ERR_SKEIN_CONFIG_INVALID/, r.describe);
      for (const text of bad.names) assert.ok(r.stderr.includes(text), `stderr names '${text}'\n${r.describe}`);
    });
  }

  const BAD_CHANNEL: { command: string; param: string; names: string[] }[] = [
    { command: 'pub', param: 'mtu=100', names: ['mtu=100', 'multiple of 32'] },
    { command: 'pub', param: 'term-length=1000', names: ['term-length=1000', 'power of two in 64k..1g'] },
    { command: 'sub', param: 'rcv-wnd=0', names: ['rcv-wnd=0', '1..2147483647'] },
    { command: 'sub', param: 'session-id=x', names: ['session-id=x', '-2147483648..2147483647'] },
  ];
  for (const bad of BAD_CHANNEL) {
    it(`skein ${bad.command} on a channel with ${bad.param} exits 2 with ERR_SKEIN_URI_PARAM_INVALID`, async () => {
      const channel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}|${bad.param}`;
      const r = await run([bad.command, '--test-profile', '--channel', channel, '--count', '1']);
      assert.equal(r.code, 2, r.describe);
      assert.match(r.stderr, /ERR_SKEIN_URI_PARAM_INVALID/, r.describe);
      for (const text of bad.names) assert.ok(r.stderr.includes(text), `stderr names '${text}'\n${r.describe}`);
    });
  }

  it('skein pub with messages longer than the term allows exits 2 naming the size and the maximum', async () => {
    const channel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    const r = await run(['pub', '--test-profile', '--channel', channel, '--size', '1m', '--count', '1']);
    assert.equal(r.code, 2, r.describe);
    assert.match(r.stderr, /'1048576'/, r.describe);
    assert.match(r.stderr, /at most 8192 bytes for term length 65536/, r.describe);
  });

  it('skein sub on a port another process holds exits 1 with ERR_SKEIN_TRANSPORT_BIND_FAILED at once', async () => {
    const channel = `aeron:udp?endpoint=127.0.0.1:${await freeUdpPort()}`;
    const holder = startSkein(['sub', '--test-profile', '--channel', channel]);
    try {
      await holder.waitForLine(/subscribed to/, BOUND_MS, 'stderr');
      const r = await run(['sub', '--test-profile', '--channel', channel]);
      assert.equal(r.code, 1, r.describe);
      assert.match(r.stderr, /ERR_SKEIN_TRANSPORT_BIND_FAILED/, r.describe);
      assert.match(r.stderr, /EADDRINUSE/, r.describe);
      assert.ok(r.stderr.includes(channel.replace('aeron:udp?endpoint=', '')), `names the address\n${r.describe}`);
      assert.ok(r.elapsedMs < 5000, `failed at once (${r.elapsedMs} ms), no driver timeout`);
    } finally {
      await holder.kill();
    }
  });
});
