/**
 * `skein errors`: prints the distinct-error log of running Skein processes, in the manner of
 * Aeron's ErrorStat.
 */
import type { Command } from 'commander';
import { defaultSkeinDir } from '../env/storage.js';
import { integerOption } from './cli-options.js';
import { action, EXIT_FAILURE, EXIT_OK, exitProcess, report } from './cli-runtime.js';
import { formatTime, liveSnapshots } from './live-snapshots.js';

export interface ErrorsOptions {
  dir?: string;
  pid?: number;
  stack?: boolean;
  json?: boolean;
}

export function registerErrorsCommand(program: Command): Command {
  return program
    .command('errors')
    .summary('Print distinct errors of running processes (ErrorStat)')
    .description(
      'Print the distinct errors each running Skein process has observed: how many times, first and last time, ' +
        'code and message. Exits 1 when --pid names no running process.',
    )
    .option('--dir <path>', 'Skein directory (default: SKEIN_DIR or /dev/shm/skein-<user>)')
    .option('--pid <pid>', 'only this process', integerOption(1, 2 ** 31))
    .option('--stack', 'print each error\'s stack trace too')
    .option('--json', 'print the error logs as JSON: [{pid, errors, errorOverflowCount}]')
    .action(action('errors', (options: ErrorsOptions) => runErrors(options)));
}

async function runErrors(options: ErrorsOptions): Promise<void> {
  const dir = options.dir ?? defaultSkeinDir();
  const files = liveSnapshots(dir, options.pid);
  const code = options.pid !== undefined && files.length === 0 ? EXIT_FAILURE : EXIT_OK;
  if (options.json === true) {
    const logs = files.map(({ snapshot }) => ({ pid: snapshot.pid, errors: snapshot.errors, errorOverflowCount: snapshot.errorOverflowCount }));
    exitProcess(code, `${JSON.stringify(logs)}\n`);
    return;
  }
  if (files.length === 0) {
    report('errors', options.pid === undefined ? `no running Skein processes publish in ${dir}` : `process ${options.pid} publishes nothing in ${dir}`);
    exitProcess(code);
    return;
  }
  const lines: string[] = [];
  for (const { snapshot } of files) {
    const overflow = snapshot.errorOverflowCount > 0 ? ` (${snapshot.errorOverflowCount} more not kept)` : '';
    lines.push(`pid ${snapshot.pid}: ${snapshot.errors.length} distinct errors${overflow}`);
    for (const entry of snapshot.errors) {
      lines.push(
        `${entry.observationCount} observations from ${formatTime(entry.firstObservationMs)} to ${formatTime(entry.lastObservationMs)}:`,
      );
      lines.push(`  ${entry.code === undefined ? '' : `${entry.code}: `}${entry.message}`);
      if (options.stack === true) lines.push(entry.stack.split('\n').map((line) => `    ${line}`).join('\n'));
    }
    lines.push('');
  }
  exitProcess(code, `${lines.join('\n')}\n`);
}
