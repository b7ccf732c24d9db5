/**
 * `skein respond`: an echo server on response channels, in the manner of Aeron's response server
 * sample. Answers every request with "responding to message: <request>": Skein clients
 * (`skein request`) with correlation ids, plain clients (Aeron's response_client) with plain text.
 */
import type { Command } from 'commander';
import { addSkeinOptions, channelOption, integerOption, launchSkein, type SkeinCliOptions } from './cli-options.js';
import { action, EXIT_OK, exitProcess, nowMs, onShutdownSignal, report } from './cli-runtime.js';
import { RESPONSE_DEFAULTS } from '../response/response-protocol.js';

export interface RespondOptions extends SkeinCliOptions {
  requestChannel: string;
  requestStream: number;
  responseControlChannel: string;
  responseStream: number;
  sessionTimeoutMs: number;
  count: number;
  print: boolean;
}

export interface RespondSummary {
  answered: number;
  sessionsOpened: number;
  sessionsClosed: number;
  elapsedMs: number;
}

/** Adds the four channel and stream options `respond` and `request` share, with Aeron's sample defaults. */
export function addResponseChannelOptions(command: Command): Command {
  return command
    .option('--request-channel <uri>', 'channel requests travel on (the server subscribes to it)', channelOption, RESPONSE_DEFAULTS.requestChannel)
    .option('--request-stream <id>', 'stream id of requests', integerOption(-(2 ** 31), 2 ** 31 - 1), RESPONSE_DEFAULTS.requestStreamId)
    .option('--response-control-channel <uri>', "the server's response control address (control=host:port)", channelOption, RESPONSE_DEFAULTS.responseControlChannel)
    .option('--response-stream <id>', 'stream id of responses', integerOption(-(2 ** 31), 2 ** 31 - 1), RESPONSE_DEFAULTS.responseStreamId);
}

export function registerRespondCommand(program: Command): Command {
  const command = program
    .command('respond')
    .summary('Answer requests on response channels (echo server)')
    .description(
      'Answer every request with "responding to message: <request>", one response stream per client, like Aeron\'s response ' +
        'server sample (which Aeron\'s response_client can talk to). Runs until SIGINT/SIGTERM (or --count answers) and ends ' +
        'with a one-line JSON summary on stdout: {answered, sessionsOpened, sessionsClosed, elapsedMs}. Session changes are ' +
        'reported on stderr.',
    );
  addResponseChannelOptions(command)
    .option('--session-timeout-ms <ms>', 'close the session of a heartbeating client silent this long', integerOption(1, 3_600_000), 5000)
    .option('--count <n>', 'exit after answering this many requests, 0 = run until interrupted', integerOption(0, Number.MAX_SAFE_INTEGER), 0)
    .option('--print', 'print each request on stdout', false);
  addSkeinOptions(command);
  command.action(action('respond', (options: RespondOptions) => runRespond(options)));
  return command;
}

async function runRespond(options: RespondOptions): Promise<void> {
  const skein = await launchSkein(options);
  const { ResponseServer } = await import('../response/response-server.js');
  const startMs = nowMs();
  let answered = 0;
  let opened = 0;
  let closed = 0;
  let finished = false;
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  const finish = async (): Promise<void> => {
    if (finished) return;
    finished = true;
    server.close();
    const summary: RespondSummary = { answered, sessionsOpened: opened, sessionsClosed: closed, elapsedMs: Math.round(nowMs() - startMs) };
    await skein.close();
    exitProcess(EXIT_OK, `${JSON.stringify(summary)}\n`);
  };
  const server = await ResponseServer.start(skein.client, {
    requestChannel: options.requestChannel,
    requestStreamId: options.requestStream,
    responseControlChannel: options.responseControlChannel,
    responseStreamId: options.responseStream,
    sessionTimeoutMs: options.sessionTimeoutMs,
    errorHandler: (error) => report('respond', (error as Error)?.message ?? String(error)),
    onSessionChange: (session, _from, to, reason) => {
      if (to === 'OPEN') opened++;
      if (to === 'CLOSED') closed++;
      report('respond', `session ${session.requestSessionId} from ${session.sourceIdentity} ${to}: ${reason}`);
    },
    handler: (request) => {
      const text = decoder.decode(request);
      if (options.print) process.stdout.write(`${text}\n`);
      answered++;
      if (answered === options.count) setImmediate(() => void finish());
      return `responding to message: ${text}`;
    },
  });
  onShutdownSignal(() => void finish());
  report('respond', `answering ${options.requestChannel} stream ${options.requestStream} on ${options.responseControlChannel} stream ${options.responseStream}`);
}
