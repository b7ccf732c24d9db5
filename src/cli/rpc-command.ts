/**
 * `skein registry`, `skein rpc serve`, `skein rpc call` and `skein rpc providers`: the RPC layer
 * from the command line (docs/rpc.md, "Command line").
 */
import type { Command } from 'commander';
import { addSkeinOptions, integerOption, launchSkein, type SkeinCliOptions } from './cli-options.js';
import { action, EXIT_FAILURE, EXIT_OK, exitProcess, nowMs, onShutdownSignal, report, sleep, usageError } from './cli-runtime.js';
import { freeUdpPortPair } from './free-port.js';
import { systemEpochClock } from '../env/clock.js';
import { nodeTimers } from '../env/timers.js';
import { BALANCER_NAMES, DEFAULT_BALANCER, type BalancerName } from '../rpc/balancer.js';
import { DEFAULT_REGISTRY_ADDRESS } from '../rpc/embedded-registry.js';
import type { Registry } from '../rpc/registry.js';
import type { Skein } from '../skein.js';

interface RegistryCliOptions extends SkeinCliOptions {
  address: string;
}

interface ServeOptions extends SkeinCliOptions {
  address?: string;
  registry: string;
  provider?: string[];
  incarnation?: string;
  weight: number;
  leaseMs: number;
  drainTimeoutMs: number;
  delayMs: number;
}

interface CallCliOptions extends SkeinCliOptions {
  registry: string;
  provider?: string[];
  count: number;
  concurrency: number;
  timeoutMs: number;
  balancer: BalancerName;
  key?: string;
  waitMs: number;
  durationMs: number;
}

function addressOption(value: string): string {
  if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/.test(value)) throw new Error(`'${value}' is not host:port`);
  return value;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), addressOption(value)];
}

export function registerRegistryCommand(program: Command): Command {
  const command = program
    .command('registry')
    .summary('Run the embedded RPC registry')
    .description(
      'Run the embedded registry: providers register with leases (kept alive by renewals), consumers watch each service and ' +
        'get a full snapshot on every change. Each registration, renewal failure, expiry and removal is printed on stdout as a ' +
        'JSON line; runs until SIGINT/SIGTERM and ends with a JSON summary {leases, elapsedMs}.',
    )
    .option('--address <host:port>', 'request endpoint of the registry (responses leave from the next port)', addressOption, DEFAULT_REGISTRY_ADDRESS);
  addSkeinOptions(command);
  command.action(action('registry', (options: RegistryCliOptions) => runRegistry(options)));
  return command;
}

async function runRegistry(options: RegistryCliOptions): Promise<void> {
  const skein = await launchSkein(options);
  const { RegistryServer } = await import('../rpc/embedded-registry.js');
  const startMs = nowMs();
  const server = await RegistryServer.start(skein.client, {
    address: options.address,
    epochClock: systemEpochClock,
    onEvent: (event) => process.stdout.write(`${JSON.stringify({ event: event.kind, service: event.service, provider: event.id, lease: event.leaseId })}\n`),
    onError: (error) => report('registry', (error as Error)?.message ?? String(error)),
  });
  report('registry', `serving on ${server.address} (responses from the next port)`);
  let finished = false;
  onShutdownSignal(() => {
    if (finished) return;
    finished = true;
    const leases = server.leaseCount;
    void server.close().then(() => skein.close()).then(() => exitProcess(EXIT_OK, `${JSON.stringify({ leases, elapsedMs: Math.round(nowMs() - startMs) })}\n`));
  });
}

export function registerRpcCommand(program: Command): Command {
  const rpc = program.command('rpc').summary('RPC: serve the demo service, call it, list providers').description('RPC over Skein (docs/rpc.md).');
  const serve = rpc
    .command('serve')
    .summary('Serve the demo service (echo and a small key-value store)')
    .description(
      'Serve the demo service: echo, get, put, delete, keys (a stream), sleep and log (oneway), registered with the embedded ' +
        'registry (or with none, for consumers given --provider). Prints {"event":"serving","address",...} on stdout once it ' +
        'serves; on SIGINT/SIGTERM it drains (deregisters, lets calls in flight finish up to --drain-timeout-ms) and prints a ' +
        'JSON summary of its calls.',
    )
    .option('--address <host:port>', 'request endpoint (responses leave from the next port); default two free ports on 127.0.0.1', addressOption)
    .option('--registry <host:port|none>', "the embedded registry's address, or 'none'", DEFAULT_REGISTRY_ADDRESS)
    .option('--incarnation <id>', 'this provider instance; default a random id')
    .option('--weight <n>', 'weight for the weighted balancers', integerOption(1, 1_000_000), 100)
    .option('--lease-ms <ms>', 'registration lease, renewed every third of it', integerOption(100, 3_600_000), 10_000)
    .option('--drain-timeout-ms <ms>', 'how long calls in flight may finish on shutdown', integerOption(0, 3_600_000), 5000)
    .option('--delay-ms <ms>', 'echo and get wait this long first (a slow provider)', integerOption(0, 3_600_000), 0);
  addSkeinOptions(serve);
  serve.action(action('rpc serve', (options: ServeOptions) => runServe(options)));

  const call = rpc
    .command('call')
    .summary('Call a method of the demo service')
    .argument('<method>', 'echo, get, put, delete, keys, sleep or log')
    .argument('[request]', 'the request as JSON, e.g. \'{"text":"hi"}\'', '{}')
    .description(
      'Call a method of the demo service through a consumer (registry, or --provider addresses). Prints the answer as JSON ' +
        '(a stream: one line per message); with --count (or --duration-ms), calls that many times (for that long), --concurrency at once, and prints a JSON summary ' +
        '{calls, ok, failed, errors, elapsedMs, callsPerSec, p50Us, p99Us, providers}. Exit 1 when a call failed.',
    )
    .option('--registry <host:port>', "the embedded registry's address", DEFAULT_REGISTRY_ADDRESS)
    .option('--provider <host:port>', 'call this provider directly (repeatable); no registry', collect)
    .option('--count <n>', 'calls to make; 0 = one call, answer printed', integerOption(0, Number.MAX_SAFE_INTEGER), 0)
    .option('--concurrency <n>', 'calls in flight at once with --count', integerOption(1, 65536), 1)
    .option('--timeout-ms <ms>', 'deadline of each call', integerOption(1, 2 ** 31 - 1), 3000)
    .option('--balancer <name>', `one of ${BALANCER_NAMES.join(', ')}`, DEFAULT_BALANCER)
    .option('--key <key>', 'consistent-hashing key')
    .option('--wait-ms <ms>', 'wait this long for a READY provider before the first call', integerOption(0, 3_600_000), 3000)
    .option('--duration-ms <ms>', 'with --concurrency: call for this long instead of --count calls (0: use --count)', integerOption(0, 86_400_000), 0);
  addSkeinOptions(call);
  call.action(action('rpc call', (method: string, request: string, options: CallCliOptions) => runCall(call, method, request, options)));

  const providers = rpc
    .command('providers')
    .summary('What a consumer of the demo service sees: every provider and its state')
    .description(
      'Start a consumer of the demo service, wait --wait-ms for its picture to settle, then print one JSON object: ' +
        '{service, state, registry, providers: [{address, incarnation, state, reason, active, consecutiveFailures}]}.',
    )
    .option('--registry <host:port>', "the embedded registry's address", DEFAULT_REGISTRY_ADDRESS)
    .option('--provider <host:port>', 'a provider address (repeatable); no registry', collect)
    .option('--wait-ms <ms>', 'how long to watch before printing', integerOption(0, 3_600_000), 1500);
  addSkeinOptions(providers);
  providers.action(action('rpc providers', (options: CallCliOptions) => runProviders(options)));
  return rpc;
}

async function registryFor(skein: Skein, options: { registry: string; provider?: string[] }): Promise<Registry> {
  if (options.provider !== undefined && options.provider.length > 0) {
    const { StaticRegistry } = await import('../rpc/registry.js');
    return new StaticRegistry({ demo: options.provider.map((address) => ({ address, incarnation: '' })) });
  }
  const { EmbeddedRegistry } = await import('../rpc/embedded-registry.js');
  return new EmbeddedRegistry(skein.client, { address: options.registry });
}

async function runServe(options: ServeOptions): Promise<void> {
  const skein = await launchSkein(options);
  const { RpcProvider } = await import('../rpc/rpc-provider.js');
  const { DemoService, demoImplementation } = await import('../rpc/demo-service.js');
  const address = options.address ?? `127.0.0.1:${await freeUdpPortPair()}`;
  const registry = options.registry === 'none' ? undefined : await registryFor(skein, { registry: addressOption(options.registry) });
  const startMs = nowMs();
  const incarnation = options.incarnation ?? `${process.pid}-${Date.now().toString(36)}`;
  let logged = 0;
  const provider = await RpcProvider.start(skein.client, {
    service: DemoService,
    implementation: demoImplementation(incarnation, nodeTimers, () => void logged++, options.delayMs),
    address, incarnation, weight: options.weight, drainTimeoutMs: options.drainTimeoutMs,
    ...(registry === undefined ? {} : { registry }),
    onError: (error) => report('rpc serve', (error as Error)?.message ?? String(error)),
  });
  process.stdout.write(`${JSON.stringify({ event: 'serving', service: DemoService.name, address, incarnation, registry: options.registry })}\n`);
  let finished = false;
  onShutdownSignal(() => {
    if (finished) return;
    finished = true;
    void (async () => {
      await provider.close();
      await registry?.close();
      await skein.close();
      exitProcess(EXIT_OK, `${JSON.stringify({ ...provider.stats, logged, elapsedMs: Math.round(nowMs() - startMs) })}\n`);
    })();
  });
}

async function runCall(command: Command, method: string, requestText: string, options: CallCliOptions): Promise<void> {
  const { DemoService } = await import('../rpc/demo-service.js');
  if (!(method in DemoService.methods)) usageError(command, `method '${method}' is not one of ${Object.keys(DemoService.methods).join(', ')}`);
  if (!BALANCER_NAMES.includes(options.balancer)) usageError(command, `--balancer '${options.balancer}' is not one of ${BALANCER_NAMES.join(', ')}`);
  let request: unknown;
  try {
    request = JSON.parse(requestText);
  } catch (error) {
    usageError(command, `request is not JSON: ${(error as Error).message}`);
  }
  const skein = await launchSkein(options);
  const { RpcConsumer } = await import('../rpc/rpc-consumer.js');
  const { build } = await import('hdr-histogram-js');
  const registry = await registryFor(skein, options);
  const consumer = RpcConsumer.create(skein.client, DemoService, { registry, balancer: options.balancer, onError: (error) => report('rpc call', (error as Error)?.message ?? String(error)) });
  const done = async (code: number, text: string): Promise<void> => {
    consumer.close();
    await registry.close();
    await skein.close();
    exitProcess(code, text);
  };
  const waitUntil = nowMs() + options.waitMs;
  while (consumer.state !== 'READY' && nowMs() < waitUntil) await sleep(5);
  const callOptions = { timeoutMs: options.timeoutMs, ...(options.key === undefined ? {} : { key: options.key }) };
  const kind = DemoService.methods[method as keyof typeof DemoService.methods].kind;
  const once = async (): Promise<unknown> => {
    if (kind === 'serverStream') {
      const items: unknown[] = [];
      for await (const item of consumer.stream(method, request, callOptions)) items.push(item);
      return items;
    }
    return consumer.call(method, request, callOptions);
  };
  if (options.count === 0 && options.durationMs === 0) {
    try {
      const answer = await once();
      const text = kind === 'serverStream' ? (answer as unknown[]).map((i) => JSON.stringify(i)).join('\n') : JSON.stringify(answer ?? null);
      await done(EXIT_OK, `${text}\n`);
    } catch (error) {
      report('rpc call', error instanceof Error ? error.message : String(error));
      await done(EXIT_FAILURE, '');
    }
    return;
  }
  const histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const errors: Record<string, number> = {};
  const byProvider: Record<string, number> = {};
  let started = 0;
  let ok = 0;
  let failed = 0;
  const startMs = nowMs();
  const endMs = options.durationMs > 0 ? startMs + options.durationMs : Number.POSITIVE_INFINITY;
  const more = (): boolean => (options.durationMs > 0 ? nowMs() < endMs : started < options.count);
  const worker = async (): Promise<void> => {
    while (more()) {
      started++;
      const t0 = nowMs();
      try {
        const answer = (await once()) as { provider?: string } | undefined;
        ok++;
        histogram.recordValue(Math.max(1, Math.round((nowMs() - t0) * 1000)));
        const who = answer?.provider;
        if (who !== undefined) byProvider[who] = (byProvider[who] ?? 0) + 1;
      } catch (error) {
        failed++;
        const code = (error as { code?: string }).code ?? 'Error';
        errors[code] = (errors[code] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: options.durationMs > 0 ? options.concurrency : Math.min(options.concurrency, options.count) }, () => worker()));
  const elapsedMs = nowMs() - startMs;
  const summary = {
    calls: ok + failed, ok, failed, errors, elapsedMs: Math.round(elapsedMs), callsPerSec: Math.round(((ok + failed) * 1000) / Math.max(1, elapsedMs)),
    p50Us: ok > 0 ? histogram.getValueAtPercentile(50) : null, p99Us: ok > 0 ? histogram.getValueAtPercentile(99) : null, providers: byProvider,
    retries: consumer.stats.retries,
  };
  await done(failed > 0 ? EXIT_FAILURE : EXIT_OK, `${JSON.stringify(summary)}\n`);
}

async function runProviders(options: CallCliOptions): Promise<void> {
  const skein = await launchSkein(options);
  const { RpcConsumer } = await import('../rpc/rpc-consumer.js');
  const { DemoService } = await import('../rpc/demo-service.js');
  const registry = await registryFor(skein, options);
  const consumer = RpcConsumer.create(skein.client, DemoService, { registry });
  await sleep(options.waitMs);
  const view = {
    service: DemoService.name, state: consumer.state, registry: consumer.registryState,
    providers: consumer.providers().map((p) => ({ address: p.address, incarnation: p.incarnation, state: p.state, reason: p.reason, active: p.active, consecutiveFailures: p.consecutiveFailures })),
  };
  consumer.close();
  await registry.close();
  await skein.close();
  exitProcess(EXIT_OK, `${JSON.stringify(view)}\n`);
}
