/**
 * `skein archive`: runs an archive with an embedded media driver. `skein record` and
 * `skein replay`: record a channel on an archive, and replay a recording from it, from the command
 * line, each ending with a one-line JSON summary on stdout.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { addSkeinOptions, channelOption, integerOption, launchSkein, type SkeinCliOptions } from './cli-options.js';
import { action, EXIT_FAILURE, EXIT_OK, exitProcess, nowMs, onShutdownSignal, report, sleep } from './cli-runtime.js';

const STREAM = integerOption(-(2 ** 31), 2 ** 31 - 1);

export interface ArchiveCommandOptions extends SkeinCliOptions {
  archiveDir: string;
  controlChannel: string;
  controlStream: number;
  localControlChannel: string;
  localControlStream: number;
  fileSyncLevel: number;
  catalogSyncLevel: number;
  segmentLength?: number;
  connectTimeoutMs: number;
  livenessIntervalMs: number;
  replicationChannel: string;
}

export function registerArchiveCommand(program: Command): Command {
  const command = program
    .command('archive')
    .summary('Run an archive (records and replays streams; Aeron Archive protocol)')
    .description(
      'Run an archive with an embedded media driver until SIGINT/SIGTERM. Clients (Skein\'s ArchiveClient, Aeron\'s AeronArchive) ' +
        'connect on the control channel. Every control session that ends is printed on stdout as a JSON line ' +
        '{event: "session-end", controlSessionId, reason, normal, message}; the end is a JSON summary {sessionsEnded, recordings, elapsedMs}.',
    )
    .option('--archive-dir <path>', 'archive directory (catalog and segment files)', 'aeron-archive')
    .option('--control-channel <uri>', 'UDP control request channel', channelOption, 'aeron:udp?endpoint=localhost:8010')
    .option('--control-stream <id>', 'control request stream', STREAM, 10)
    .option('--local-control-channel <uri>', 'IPC control request channel', channelOption, 'aeron:ipc?term-length=64k')
    .option('--local-control-stream <id>', 'IPC control request stream', STREAM, 10)
    .option('--file-sync-level <n>', 'segment files: 0 no sync, 1 data, 2 data and metadata', integerOption(0, 2), 0)
    .option('--catalog-sync-level <n>', 'catalog: 0 no sync, 1 data, 2 data and metadata', integerOption(0, 2), 0)
    .option('--segment-length <bytes>', 'segment file length, a power of two in 64k..1g (default 128m)', integerOption(64 * 1024, 1 << 30))
    .option('--connect-timeout-ms <ms>', 'control session connect and send timeout', integerOption(1, 3_600_000), 5000)
    .option('--liveness-interval-ms <ms>', 'interval of pings to each control session', integerOption(1, 3_600_000), 1000)
    .option('--replication-channel <uri>', 'where the source of a replication replays to (port 0: any free port)', channelOption, 'aeron:udp?endpoint=localhost:0');
  addSkeinOptions(command);
  command.action(action('archive', (options: ArchiveCommandOptions) => runArchive(options)));
  return command;
}

async function runArchive(options: ArchiveCommandOptions): Promise<void> {
  const skein = await launchSkein(options);
  const { Archive } = await import('../archive/archive.js');
  const startMs = nowMs();
  let ended = 0;
  let archive: import('../archive/archive.js').Archive;
  try {
    archive = await Archive.launch(skein.client, {
      dir: resolve(options.archiveDir),
      controlChannel: options.controlChannel,
      controlStreamId: options.controlStream,
      localControlChannel: options.localControlChannel,
      localControlStreamId: options.localControlStream,
      fileSyncLevel: options.fileSyncLevel,
      catalogFileSyncLevel: options.catalogSyncLevel,
      connectTimeoutNs: options.connectTimeoutMs * 1e6,
      sessionLivenessCheckIntervalNs: options.livenessIntervalMs * 1e6,
      replicationChannel: options.replicationChannel,
      ...(options.segmentLength === undefined ? {} : { segmentFileLength: options.segmentLength }),
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      env: process.env,
      onSessionEnd: (controlSessionId, end) => {
        ended++;
        process.stdout.write(`${JSON.stringify({ event: 'session-end', controlSessionId, reason: end.reason, normal: end.normal, message: end.error.message })}\n`);
      },
    });
  } catch (error) {
    await skein.close();
    throw error;
  }
  let finished = false;
  onShutdownSignal(() => {
    if (finished) return;
    finished = true;
    archive.close();
    void skein.close().then(() => exitProcess(EXIT_OK, `${JSON.stringify({ sessionsEnded: ended, elapsedMs: Math.round(nowMs() - startMs) })}\n`));
  });
  report('archive', `archive ${archive.archiveId} in ${resolve(options.archiveDir)} listening on ${archive.controlChannel ?? '(no UDP control)'} stream ${options.controlStream} and ${options.localControlChannel} stream ${options.localControlStream}`);
}

interface ClientOptions extends SkeinCliOptions {
  archiveChannel: string;
  archiveStream: number;
  responseChannel: string;
  timeoutMs: number;
}

function addArchiveClientOptions(command: Command): Command {
  return command
    .option('--archive-channel <uri>', "the archive's control request channel", channelOption, 'aeron:udp?endpoint=localhost:8010')
    .option('--archive-stream <id>', "the archive's control request stream", STREAM, 10)
    .option('--response-channel <uri>', 'where the archive answers (port 0: any free port)', channelOption, 'aeron:udp?endpoint=localhost:0')
    .option('--timeout-ms <ms>', 'deadline of the connect and of each request', integerOption(1, 3_600_000), 10_000);
}

interface RecordOptions extends ClientOptions {
  channel: string;
  stream: number;
  durationMs: number;
  local: boolean;
}

export function registerRecordCommand(program: Command): Command {
  const command = program
    .command('record')
    .summary('Record a channel on an archive')
    .description(
      'Ask an archive to record --channel/--stream, wait --duration-ms (0: until SIGINT/SIGTERM), stop the recording and print a JSON ' +
        'summary {subscriptionId, recordings: [{recordingId, startPosition, stopPosition}]}. Exit 1 when the archive refuses.',
    )
    .requiredOption('--channel <uri>', 'channel to record', channelOption)
    .option('--stream <id>', 'stream to record', STREAM, 1001)
    .option('--duration-ms <ms>', 'how long to record, 0 = until interrupted', integerOption(0, Number.MAX_SAFE_INTEGER), 0)
    .option('--local', 'record a publication of the archive\'s own driver (a spy) instead of a network subscription', false);
  addArchiveClientOptions(command);
  addSkeinOptions(command);
  command.action(action('record', (options: RecordOptions) => runRecord(options)));
  return command;
}

async function connectClient(options: ClientOptions, onSignal?: (s: { recordingId: number; position: number; signal: string }) => void) {
  const skein = await launchSkein(options);
  const { ArchiveClient } = await import('../archive/archive-client.js');
  try {
    const client = await ArchiveClient.connect(skein.client, {
      controlRequestChannel: options.archiveChannel,
      controlRequestStreamId: options.archiveStream,
      controlResponseChannel: options.responseChannel,
      messageTimeoutMs: options.timeoutMs,
      clientName: 'skein-cli',
      ...(onSignal === undefined ? {} : { onRecordingSignal: onSignal }),
    });
    return { skein, client };
  } catch (error) {
    await skein.close();
    throw error;
  }
}

async function runRecord(options: RecordOptions): Promise<void> {
  const recordings = new Map<number, { recordingId: number; startPosition: number; stopPosition: number }>();
  const { skein, client } = await connectClient(options, (s) => {
    if (s.signal === 'START') recordings.set(s.recordingId, { recordingId: s.recordingId, startPosition: s.position, stopPosition: -1 });
    if (s.signal === 'STOP') {
      const r = recordings.get(s.recordingId);
      if (r !== undefined) r.stopPosition = s.position;
    }
  });
  let subscriptionId: number;
  try {
    subscriptionId = await client.startRecording(options.channel, options.stream, options.local ? 'LOCAL' : 'REMOTE');
  } catch (error) {
    await client.close();
    await skein.close();
    throw error;
  }
  report('record', `recording ${options.channel} stream ${options.stream} (subscription ${subscriptionId})`);
  let stop: () => void = () => {};
  const stopped = new Promise<void>((r) => (stop = r));
  onShutdownSignal(() => stop());
  if (options.durationMs > 0) void sleep(options.durationMs).then(() => stop());
  await stopped;
  let code = EXIT_OK;
  try {
    await client.stopRecordingSubscription(subscriptionId);
    // The STOP signals follow the answer.
    const deadline = nowMs() + options.timeoutMs;
    while ([...recordings.values()].some((r) => r.stopPosition === -1) && nowMs() < deadline) await sleep(5);
    for (const r of recordings.values()) if (r.stopPosition === -1) r.stopPosition = await client.getStopPosition(r.recordingId);
  } catch (error) {
    report('record', error instanceof Error ? error.message : String(error));
    code = EXIT_FAILURE;
  }
  await client.close();
  await skein.close();
  exitProcess(code, `${JSON.stringify({ subscriptionId, recordings: [...recordings.values()] })}\n`);
}

interface ReplicateCliOptions extends ClientOptions {
  srcChannel: string;
  srcStream: number;
  srcRecordingId: number;
  dstRecordingId: number;
  stopPosition: number;
  liveDestination?: string;
  replicationChannel?: string;
  channelTag?: number;
  subscriptionTag?: number;
}

export function registerReplicateCommand(program: Command): Command {
  const command = program
    .command('replicate')
    .summary('Copy a recording from one archive to another')
    .description(
      'Ask the archive at --archive-channel to replicate recording --src-recording-id of the archive at --src-channel, follow its signals ' +
        'until REPLICATE_END (SIGINT/SIGTERM stops the replication) and print a JSON summary ' +
        '{replicationId, dstRecordingId, signals: [{signal, position}], error}. Exit 1 when the replication fails.',
    )
    .requiredOption('--src-channel <uri>', "the source archive's control request channel", channelOption)
    .option('--src-stream <id>', "the source archive's control request stream", STREAM, 10)
    .requiredOption('--src-recording-id <id>', 'the recording to copy', integerOption(0, Number.MAX_SAFE_INTEGER))
    .option('--dst-recording-id <id>', 'a stopped recording to continue; -1 = a new one', integerOption(-1, Number.MAX_SAFE_INTEGER), -1)
    .option('--stop-position <n>', 'stop at this source position; -1 = when the source stops', integerOption(-1, Number.MAX_SAFE_INTEGER), -1)
    .option('--live-destination <uri>', 'after catching up, merge with the live stream arriving here (the source must be recording)', channelOption)
    .option('--replication-channel <uri>', "where the source replays to (default: the destination archive's)", channelOption)
    .option('--channel-tag <n>', 'tagged replication: channel tag of the recording subscription', integerOption(0, Number.MAX_SAFE_INTEGER))
    .option('--subscription-tag <n>', 'tagged replication: subscription tag', integerOption(0, Number.MAX_SAFE_INTEGER));
  addArchiveClientOptions(command);
  addSkeinOptions(command);
  command.action(action('replicate', (options: ReplicateCliOptions) => runReplicate(options)));
  return command;
}

async function runReplicate(options: ReplicateCliOptions): Promise<void> {
  const signals: { signal: string; position: number; recordingId: number; correlationId: number }[] = [];
  const errors: { correlationId?: number; message: string }[] = [];
  const skein = await launchSkein(options);
  const { ArchiveClient } = await import('../archive/archive-client.js');
  let client: import('../archive/archive-client.js').ArchiveClient;
  try {
    client = await ArchiveClient.connect(skein.client, {
      controlRequestChannel: options.archiveChannel,
      controlRequestStreamId: options.archiveStream,
      controlResponseChannel: options.responseChannel,
      messageTimeoutMs: options.timeoutMs,
      clientName: 'skein-cli',
      onRecordingSignal: (s) => signals.push({ signal: s.signal, position: s.position, recordingId: s.recordingId, correlationId: s.correlationId }),
      onError: (e) => errors.push({ message: e.message, ...(typeof e.subject?.correlationId === 'number' ? { correlationId: e.subject.correlationId } : {}) }),
    });
  } catch (error) {
    await skein.close();
    throw error;
  }
  let replicationId: number;
  try {
    replicationId = await client.replicate(options.srcRecordingId, options.srcStream, options.srcChannel, {
      dstRecordingId: options.dstRecordingId,
      stopPosition: options.stopPosition,
      ...(options.liveDestination === undefined ? {} : { liveDestination: options.liveDestination }),
      ...(options.replicationChannel === undefined ? {} : { replicationChannel: options.replicationChannel }),
      ...(options.channelTag === undefined ? {} : { channelTagId: options.channelTag }),
      ...(options.subscriptionTag === undefined ? {} : { subscriptionTagId: options.subscriptionTag }),
    });
  } catch (error) {
    await client.close();
    await skein.close();
    throw error;
  }
  report('replicate', `replication ${replicationId} of recording ${options.srcRecordingId} from ${options.srcChannel}`);
  const mine = (): typeof signals => signals.filter((s) => s.correlationId === replicationId);
  let interrupted = false;
  onShutdownSignal(() => {
    if (interrupted) return;
    interrupted = true;
    void client.stopReplication(replicationId).catch(() => undefined);
  });
  while (!mine().some((s) => s.signal === 'REPLICATE_END')) await sleep(5);
  const failure = errors.find((e) => e.correlationId === replicationId)?.message ?? null;
  const dst = mine().find((s) => s.signal === 'REPLICATE' || s.signal === 'EXTEND');
  await client.close();
  await skein.close();
  const summary = {
    replicationId,
    dstRecordingId: dst?.recordingId ?? options.dstRecordingId,
    signals: mine().map((s) => ({ signal: s.signal, position: s.position })),
    error: failure,
  };
  exitProcess(failure === null ? EXIT_OK : EXIT_FAILURE, `${JSON.stringify(summary)}\n`);
}

interface ReplayOptions extends ClientOptions {
  recordingId: number;
  position: number;
  length: number;
  replayChannel: string;
  replayStream: number;
  print: boolean;
}

export function registerReplayCommand(program: Command): Command {
  const command = program
    .command('replay')
    .summary('Replay a recording from an archive')
    .description(
      'Replay --recording-id from --position (-1: its start) for --length bytes (-2: what is recorded now; -1: follow a live recording until it stops) ' +
        'to a subscription of this process, and print a JSON summary {recordingId, messages, bytes, fromPosition, toPosition}.',
    )
    .requiredOption('--recording-id <id>', 'the recording', integerOption(0, Number.MAX_SAFE_INTEGER))
    .option('--position <n>', 'start position, -1 = the start of the recording', integerOption(-1, Number.MAX_SAFE_INTEGER), -1)
    .option('--length <n>', 'bytes to replay; -2 = all recorded now, -1 = follow until the recording stops', integerOption(-2, Number.MAX_SAFE_INTEGER), -2)
    .option('--replay-channel <uri>', 'channel the archive replays to (this process subscribes to it)', channelOption, 'aeron:udp?endpoint=localhost:0')
    .option('--replay-stream <id>', 'stream the archive replays on', STREAM, 2002)
    .option('--print', 'print each message on stdout (as text)', false);
  addArchiveClientOptions(command);
  addSkeinOptions(command);
  command.action(action('replay', (options: ReplayOptions) => runReplay(options)));
  return command;
}

async function runReplay(options: ReplayOptions): Promise<void> {
  const { skein, client } = await connectClient(options);
  const { FragmentAssembler } = await import('../logbuffer/fragment-assembler.js');
  let code = EXIT_OK;
  let messages = 0;
  let bytes = 0;
  let fromPosition = -1;
  let toPosition = -1;
  try {
    const descriptor = await client.listRecording(options.recordingId);
    if (descriptor === null) throw new Error(`the archive has no recording ${options.recordingId}`);
    fromPosition = options.position === -1 ? descriptor.startPosition : options.position;
    const subscription = await skein.addSubscription(options.replayChannel, options.replayStream);
    const replayChannel = subscription.resolvedChannel;
    // "What is recorded now" (-2) is resolved here into a length, which archives before Aeron's
    // protocol 1.12 (that refuse a negative length other than -1) also take.
    let length = options.length;
    if (length === -2) {
      const stop = await client.getStopPosition(options.recordingId);
      const end = stop >= 0 ? stop : await client.getRecordingPosition(options.recordingId);
      length = Math.max(0, end - fromPosition);
    }
    const replaySessionId = await client.replay(options.recordingId, options.position, length, replayChannel, options.replayStream);
    const sessionId = Number(replaySessionId & 0xffffffffn) | 0;
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    const assembler = new FragmentAssembler((buffer: Uint8Array, offset: number, length: number, header: { position: number; sessionId: number }) => {
      if (header.sessionId !== sessionId) return;
      messages++;
      bytes += length;
      toPosition = header.position;
      if (options.print) process.stdout.write(`${decoder.decode(buffer.subarray(offset, offset + length))}\n`);
    });
    let seen = false;
    let interrupted = false;
    onShutdownSignal(() => (interrupted = true));
    const deadline = nowMs() + options.timeoutMs;
    // The replay ends when its image goes (the archive closes the replay publication at its end).
    for (;;) {
      const image = subscription.images.find((i) => i.sessionId === sessionId);
      if (image !== undefined) seen = true;
      const n = subscription.poll(assembler.onFragment, 256);
      if (interrupted || (seen && image === undefined && n === 0)) break;
      if (!seen && nowMs() > deadline) throw new Error(`the replay did not arrive on ${replayChannel} within ${options.timeoutMs} ms`);
      if (n === 0) await sleep(1);
    }
    subscription.close();
  } catch (error) {
    report('replay', error instanceof Error ? error.message : String(error));
    code = EXIT_FAILURE;
  }
  await client.close();
  await skein.close();
  exitProcess(code, `${JSON.stringify({ recordingId: options.recordingId, messages, bytes, fromPosition, toPosition })}\n`);
}
