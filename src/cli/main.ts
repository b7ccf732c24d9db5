#!/usr/bin/env node
/**
 * The `skein` command: sample publishers and subscribers, latency measurement and inspection of
 * running processes. Exit codes: 0 success, 1 runtime failure, 2 bad usage, 130 interrupted twice.
 */
import { Command, type CommanderError } from 'commander';
import { EXIT_OK, EXIT_USAGE } from './cli-runtime.js';
import { registerArchiveCommand, registerRecordCommand, registerReplayCommand, registerReplicateCommand } from './archive-command.js';
import { registerArchiveToolCommand } from './archive-tool-command.js';
import { registerDemoCommand } from './demo-command.js';
import { registerErrorsCommand } from './errors-command.js';
import { registerPingCommand } from './ping-command.js';
import { registerPongCommand } from './pong-command.js';
import { registerPubCommand } from './pub-command.js';
import { registerRequestCommand } from './request-command.js';
import { registerRespondCommand } from './respond-command.js';
import { registerRegistryCommand, registerRpcCommand } from './rpc-command.js';
import { registerStatCommand } from './stat-command.js';
import { registerClusterCommand } from './cluster-command.js';
import { registerClusterToolCommand } from './cluster-tool-command.js';
import { registerSubCommand } from './sub-command.js';

const VERSION = '0.1.0';

/** The program with every command registered; parsing errors exit 2, help and version exit 0. */
export function createProgram(): Command {
  const program = new Command('skein')
    .description(
      'Skein: Aeron-class messaging for Node.js. Every command that sends or receives runs its own embedded media driver. ' +
        'SKEIN_* environment variables override driver defaults (e.g. SKEIN_TERM_BUFFER_LENGTH=64k).',
    )
    .version(VERSION)
    .showHelpAfterError('(add --help for usage)')
    .exitOverride((error: CommanderError) => {
      process.exit(error.exitCode === 0 ? EXIT_OK : EXIT_USAGE);
    });
  registerDemoCommand(program);
  registerPubCommand(program);
  registerSubCommand(program);
  registerPingCommand(program);
  registerPongCommand(program);
  registerRespondCommand(program);
  registerRequestCommand(program);
  registerStatCommand(program);
  registerErrorsCommand(program);
  registerArchiveCommand(program);
  registerRecordCommand(program);
  registerReplicateCommand(program);
  registerReplayCommand(program);
  registerArchiveToolCommand(program);
  registerRegistryCommand(program);
  registerRpcCommand(program);
  registerClusterCommand(program);
  registerClusterToolCommand(program);
  return program;
}

await createProgram().parseAsync(process.argv);
