/**
 * `skein stat`: prints the counters running Skein processes publish, in the manner of AeronStat.
 */
import type { Command } from 'commander';
import type { SnapshotFile } from '../agent/snapshot.js';
import { defaultSkeinDir } from '../env/storage.js';
import { integerOption } from './cli-options.js';
import { action, EXIT_FAILURE, EXIT_OK, exitProcess, onShutdownSignal, report } from './cli-runtime.js';
import { formatTime, liveSnapshots } from './live-snapshots.js';

export interface StatOptions {
  dir?: string;
  pid?: number;
  watch?: boolean;
  json?: boolean;
  intervalMs: number;
}

export function registerStatCommand(program: Command): Command {
  return program
    .command('stat')
    .summary('Print counters of running processes (AeronStat)')
    .description(
      'Print the counters of running Skein processes (id, value, label), read from the snapshots each process ' +
        'publishes every second in the Skein directory (docs/counters.md says what moves each system counter). ' +
        'Files of processes that are no longer alive are skipped. ' +
        'Exits 1 when --pid names no running process.',
    )
    .option('--dir <path>', 'Skein directory (default: SKEIN_DIR or /dev/shm/skein-<user>)')
    .option('--pid <pid>', 'only this process', integerOption(1, 2 ** 31))
    .option('--watch', 'refresh until interrupted')
    .option('--interval-ms <ms>', 'refresh interval with --watch', integerOption(100, 3_600_000), 1000)
    .option('--json', 'print the snapshots as one JSON array per refresh instead of a table')
    .action(action('stat', (options: StatOptions) => runStat(options)));
}

async function runStat(options: StatOptions): Promise<void> {
  const dir = options.dir ?? defaultSkeinDir();
  if (options.watch !== true) {
    const files = liveSnapshots(dir, options.pid);
    process.stdout.write(render(files, dir, options));
    exitProcess(options.pid !== undefined && files.length === 0 ? EXIT_FAILURE : EXIT_OK);
    return;
  }
  const clear = process.stdout.isTTY === true && options.json !== true ? '\x1b[2J\x1b[H' : '';
  const refresh = (): void => {
    process.stdout.write(`${clear}${render(liveSnapshots(dir, options.pid), dir, options)}`);
  };
  const timer = setInterval(refresh, options.intervalMs);
  onShutdownSignal(() => {
    clearInterval(timer);
    exitProcess(EXIT_OK);
  });
  refresh();
}

function render(files: SnapshotFile[], dir: string, options: StatOptions): string {
  if (options.json === true) return `${JSON.stringify(files.map((f) => f.snapshot))}\n`;
  if (files.length === 0) {
    report('stat', options.pid === undefined ? `no running Skein processes publish in ${dir}` : `process ${options.pid} publishes nothing in ${dir}`);
    return '';
  }
  const lines: string[] = [];
  for (const { snapshot } of files) {
    lines.push(
      `pid ${snapshot.pid}: started ${formatTime(snapshot.startedAtMs)}, snapshot ${formatTime(snapshot.snapshotAtMs)}, ` +
        `${snapshot.counters.length} counters, ${snapshot.errors.length} distinct errors`,
    );
    for (const counter of snapshot.counters) {
      const value = Number.isFinite(counter.value) ? counter.value.toLocaleString('en-US') : 'n/a';
      lines.push(`${String(counter.id).padStart(3)}: ${value.padStart(20)} - ${counter.label}`);
    }
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}
