/**
 * The package as users get it. `npm pack` (its prepack build included) makes the tarball, which is
 * installed into an empty TypeScript ESM project; there the README's examples compile with
 * `strict` and `skipLibCheck: false` against the published declarations and run as written (free
 * ports aside, see readme-examples.ts), the published declarations keep the library's internals
 * out, and the installed `skein` bin runs.
 *
 * Packing happens in a copy of the repository (without .git; node_modules linked), because
 * prepack rebuilds dist/src in place while the other tests of this run load dist/src. The copy
 * holds what the working tree holds, dist/test, dist/bench and bench/results included, so the
 * package's leaving them out is a real check.
 *
 * Needs npm and no network: the consumer project gets a lockfile made from this repository's
 * package-lock.json (the package's dependencies and @types/node, at the versions `npm ci`
 * installed here) and is installed with `npm ci --offline`, so every dependency comes from the
 * npm cache that `npm ci` filled, and the package from its tarball. (`npm install --offline
 * <tarball>` would need the registry's full metadata documents, which `npm ci` does not cache.)
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { stopAll } from '../../support/processes.js';
import { EXPECTED_EXAMPLE_COUNT, REPO_ROOT, checkExampleOutput, readmeExamples, runToExit, withFreePorts } from '../../support/readme-examples.js';

const PACK_TIMEOUT_MS = 180_000;
const INSTALL_TIMEOUT_MS = 60_000;
const COMPILE_TIMEOUT_MS = 120_000;
const RUN_TIMEOUT_MS = 30_000;

/** Not copied: git's data, installed modules (linked instead), scratch space. */
const NOT_COPIED = new Set(['.git', 'node_modules', 'bench/node_modules', 'tmp']);

/**
 * Names that belong to the library's own use; none may appear in a declaration a consumer loads.
 * An agent's lifecycle hooks take no arguments (`onStart()`, `onClose()`); a clustered service's
 * `onStart(cluster, snapshot)` is the user's own.
 */
const INTERNAL_NAMES = /\b(internal[A-Z]\w*|doWork)\b|\bon(Start|Close)\(\)/;

/** Compiled with the examples: each marked line must fail to compile, the rest must compile. */
const PUBLIC_TYPES_CHECK = `import type { Archive, ArchiveClient, ClusterClient, ClusterMember, ClusteredService, CommandListener, Image, MediaDriver, Publication, ReplayMerge, ResponseClient, ResponseServer, ServerSession, SkeinClient, Subscription } from 'skein';
import { KvService, decodeKv, encodeKv, type KvAnswer } from 'skein';

declare const session: ServerSession;
declare const client: SkeinClient;
declare const publication: Publication;
declare const subscription: Subscription;
declare const image: Image;
declare const driver: MediaDriver;
declare const server: ResponseServer;
declare const requester: ResponseClient;
declare const archive: Archive;
declare const archiveClient: ArchiveClient;
declare const merge: ReplayMerge;
declare const clusterClient: ClusterClient;
declare const member: ClusterMember;

export const archiveApi: [number, number, string, boolean] = [archive.archiveId, archiveClient.controlSessionId, merge.state, merge.isMerged];

const listener: CommandListener = { onAnswer: (_token, buffer, offset, length) => void decodeKv<KvAnswer>(buffer.slice(offset, offset + length)), onError: (_token, error) => void error.code };
export const clusterApi: [boolean, string, number, string, ClusteredService] = [clusterClient.isConnected, clusterClient.state, member.leaderId, member.role, new KvService()];
export function sendBoth(): Promise<Uint8Array> {
  clusterClient.sendWith(encodeKv({ op: 'put', key: 'k', value: 'v' }), listener, 1);
  return clusterClient.send(encodeKv({ op: 'get', key: 'k' }));
}

export const readable: [string, number, number, boolean, boolean] = [session.state, session.requests, session.lastHeardNs, session.heartbeats, session.framed];

export function internals(): void {
  // @ts-expect-error read-only to users
  session.state = 'CLOSED';
  // @ts-expect-error read-only to users
  session.requests = 0;
  // @ts-expect-error read-only to users
  session.lastHeardNs = 0;
  // @ts-expect-error read-only to users
  session.heartbeats = true;
  // @ts-expect-error read-only to users
  session.framed = true;
  // @ts-expect-error the server's own
  void session.publication;
  // @ts-expect-error a duty cycle
  client.doWork(0);
  // @ts-expect-error a duty cycle
  server.doWork(0);
  // @ts-expect-error a duty cycle
  requester.doWork(0);
  // @ts-expect-error a duty cycle
  archive.doWork(0);
  // @ts-expect-error a duty cycle
  archiveClient.doWork(0);
  // @ts-expect-error a duty cycle
  clusterClient.doWork(0);
  // @ts-expect-error a duty cycle
  member.doWork(0);
  // @ts-expect-error the member's own
  void member.node;
  // @ts-expect-error the client's own
  publication.internalClose();
  // @ts-expect-error the client's own
  subscription.internalAddImage(image);
  // @ts-expect-error the client's own
  image.internalClose();
  // @ts-expect-error the driver's own
  void driver.agents;
}
`;

interface LockEntry {
  version: string;
  dev?: boolean;
  dependencies?: Record<string, string>;
  [key: string]: unknown;
}

/**
 * Lockfile entries of `roots` and everything they depend on, from `packages` (a package-lock's
 * "packages"): a dependency is looked up beside its dependant first, then further up, as Node does.
 */
function lockClosure(packages: Record<string, LockEntry>, roots: readonly string[]): Map<string, LockEntry> {
  const found = new Map<string, LockEntry>();
  const visit = (name: string, from: string): void => {
    for (let base = from; ; base = base.slice(0, Math.max(0, base.lastIndexOf('/node_modules/')))) {
      const path = `${base === '' ? '' : `${base}/`}node_modules/${name}`;
      const entry = packages[path];
      if (entry !== undefined) {
        if (found.has(path)) return;
        found.set(path, entry);
        for (const dependency of Object.keys(entry.dependencies ?? {})) visit(dependency, path);
        return;
      }
      assert.ok(base !== '', `package-lock.json has no entry for ${name} (needed by ${from || 'the root'})`);
    }
  };
  for (const root of roots) visit(root, '');
  return found;
}

function filesUnder(dir: string, base = dir, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) filesUnder(path, base, out);
    else out.push(relative(base, path).split('\\').join('/'));
  }
  return out;
}

/** npm as the running `npm test` invoked it, else from PATH. */
function npm(): { command: string; prefix: string[] } {
  const cli = process.env.npm_execpath;
  return cli !== undefined && /npm-cli\.[cm]?js$/.test(cli) ? { command: process.execPath, prefix: [cli] } : { command: 'npm', prefix: [] };
}

const NPM_ENV = { npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false' };

describe('the packed package, installed into an empty TypeScript project', { timeout: 420_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'skein-package-'));

  after(async () => {
    await stopAll();
    rmSync(root, { recursive: true, force: true });
  });

  it('installs offline, compiles the README examples with --strict, runs them and its bin; ships no tests, benches or internals', async (t) => {
    const { command, prefix } = npm();
    const examples = readmeExamples();
    assert.equal(examples.length, EXPECTED_EXAMPLE_COUNT, `README.md has ${examples.length} \`\`\`ts blocks`);

    // Pack from a copy of the working tree.
    const source = join(root, 'source');
    cpSync(REPO_ROOT, source, { recursive: true, filter: (path) => !NOT_COPIED.has(relative(REPO_ROOT, path).split('\\').join('/')) });
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(source, 'node_modules'), 'dir');
    const pack = await runToExit(command, [...prefix, 'pack', '--json', '--pack-destination', root], { cwd: source, env: NPM_ENV, timeoutMs: PACK_TIMEOUT_MS });
    const [packed] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as [{ filename: string; integrity: string; entryCount: number; size: number; unpackedSize: number }];
    t.diagnostic(`${packed.filename}: ${packed.entryCount} files, ${packed.size} bytes packed, ${packed.unpackedSize} unpacked`);

    // An empty ESM project that depends on the tarball, with a lockfile from this repository's.
    const consumer = join(root, 'consumer');
    mkdirSync(join(consumer, 'src'), { recursive: true });
    const manifest = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8')) as { version: string; license: string; dependencies: Record<string, string>; bin: Record<string, string>; engines: Record<string, string> };
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
    const typesNodeVersion = lock.packages['node_modules/@types/node']?.version;
    assert.ok(typesNodeVersion !== undefined, 'package-lock.json pins @types/node');
    const runtime = lockClosure(lock.packages, Object.keys(manifest.dependencies));
    const types = lockClosure(lock.packages, ['@types/node']);
    const tarball = `file:../${packed.filename}`;
    const dependencies = { skein: tarball };
    const devDependencies = { '@types/node': typesNodeVersion };
    const lockPackages: Record<string, unknown> = {
      '': { name: 'skein-consumer', dependencies, devDependencies },
      'node_modules/skein': { version: manifest.version, resolved: tarball, integrity: packed.integrity, license: manifest.license, dependencies: manifest.dependencies, bin: manifest.bin, engines: manifest.engines },
    };
    for (const [path, entry] of types) lockPackages[path] = { ...entry, dev: true };
    for (const [path, entry] of runtime) lockPackages[path] = { ...entry, dev: undefined };
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'skein-consumer', private: true, type: 'module', dependencies, devDependencies }, null, 2));
    writeFileSync(join(consumer, 'package-lock.json'), JSON.stringify({ name: 'skein-consumer', lockfileVersion: 3, requires: true, packages: lockPackages }, null, 2));
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', lib: ['ES2022'], module: 'nodenext', moduleResolution: 'nodenext', strict: true, skipLibCheck: false, outDir: 'out', rootDir: 'src' },
        include: ['src'],
      }),
    );
    await runToExit(command, [...prefix, 'ci', '--offline'], { cwd: consumer, env: { ...NPM_ENV, npm_config_offline: 'true' }, timeoutMs: INSTALL_TIMEOUT_MS });

    // What the tarball held, as installed.
    const installed = join(consumer, 'node_modules', 'skein');
    const files = filesUnder(installed);
    const unexpected = files.filter((file) => !['LICENSE', 'README.md', 'package.json'].includes(file) && !/^dist\/src\/.+\.(js|d\.ts)$/.test(file));
    assert.deepEqual(unexpected, [], 'only the compiled library, its declarations, README, LICENSE and package.json');
    assert.deepEqual(files.filter((file) => /^(dist\/(test|bench)|bench\/results)\//.test(file)), [], 'no tests, benches or results');
    for (const file of ['LICENSE', 'README.md', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js']) assert.ok(files.includes(file), `ships ${file}`);

    // The README examples (and the internals check) compile against the published declarations.
    for (const example of examples) writeFileSync(join(consumer, 'src', `example-${example.index}.ts`), (await withFreePorts(example.code)).code);
    writeFileSync(join(consumer, 'src', 'public-types.ts'), PUBLIC_TYPES_CHECK);
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const compile = await runToExit(process.execPath, [tsc, '-p', '.', '--listFiles'], {
      cwd: consumer,
      timeoutMs: COMPILE_TIMEOUT_MS,
      describe: (child) => `tsc failed (${child.commandLine()}):\n${child.stdout.split('\n').filter((line) => !line.startsWith('/')).join('\n')}${child.stderr}`,
    });

    // The declarations a consumer loads say nothing of the library's internals.
    const declarations = compile.stdout.split('\n').filter((line) => line.includes(`${join('node_modules', 'skein')}`) && line.endsWith('.d.ts'));
    assert.ok(declarations.some((file) => file.endsWith(join('dist', 'src', 'index.d.ts'))), `the compile loads the package's index.d.ts:\n${compile.stdout}`);
    const mentions = declarations.flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .flatMap((text, i) => (INTERNAL_NAMES.test(text) ? [`${relative(installed, file)}:${i + 1}: ${text.trim()}`] : [])),
    );
    assert.deepEqual(mentions, [], `public declarations (${declarations.length} files) mention internals`);
    t.diagnostic(`${declarations.length} public declaration files, none naming internals`);

    // The examples run from the compiled output; the bin runs.
    const env = { SKEIN_DIR: join(root, 'skein-dir') };
    mkdirSync(env.SKEIN_DIR);
    for (const example of examples) {
      const run = await runToExit(process.execPath, [join('out', `example-${example.index}.js`)], { cwd: consumer, env, timeoutMs: RUN_TIMEOUT_MS });
      checkExampleOutput(example, run.stdout, run.stderr);
    }
    const bin = await runToExit(join(consumer, 'node_modules', '.bin', 'skein'), ['--help'], {
      cwd: consumer,
      env: { PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` },
      timeoutMs: RUN_TIMEOUT_MS,
    });
    assert.match(bin.stdout, /^Usage: skein /m);
    assert.match(bin.stdout, /^\s+pub \[options\]/m);
  });
});
