/**
 * How tools reach a running member through its directory (docs/cluster.md, "Cluster tool"), in
 * place of Aeron's mark file and control-toggle counter (Skein processes share no memory):
 *
 * - `cluster-status.json`: the member's view, rewritten (temporary file, rename; off the event
 *   loop where the files allow, {@link StatusWriter}) twice a second and on every change of role,
 *   term, leader or state: member id, pid, role, election state,
 *   term, leader, commit and append positions, node state, members and their endpoints, snapshots
 *   stored, the snapshot position it started from, the time of writing.
 * - `cluster-control.json`: a request a tool writes (`{id, action}`; action snapshot, suspend,
 *   resume, shutdown or abort); the member reads and removes it within 100 ms, acts (these need the leader), and
 *   answers in `cluster-control-ack.json` (`{id, action, ok, detail}`).
 */
import { writeFileAtomically, type Files } from '../env/files.js';

export const STATUS_FILE = 'cluster-status.json';
export const CONTROL_FILE = 'cluster-control.json';
export const CONTROL_ACK_FILE = 'cluster-control-ack.json';
export const CONTROL_ACTIONS = ['snapshot', 'suspend', 'resume', 'shutdown', 'abort'] as const;
export type ControlAction = (typeof CONTROL_ACTIONS)[number];

export interface MemberStatus {
  readonly memberId: number;
  readonly pid: number;
  readonly role: string;
  readonly electionState: string;
  readonly leadershipTermId: number;
  readonly leaderId: number;
  readonly commitPosition: number;
  readonly appendPosition: number;
  readonly state: string;
  readonly snapshotsStored: number;
  /** The snapshot position the member started from (0: from the log's start). */
  readonly recoveredPosition: number;
  readonly members: readonly { readonly id: number; readonly consensus: string; readonly ingress?: string }[];
  readonly updatedAtMs: number;
  /** Where the member's process publishes its counters and errors (`skein stat`, `skein errors`), when known. */
  readonly skeinDir?: string;
}

export interface ControlRequest {
  readonly id: string;
  readonly action: ControlAction;
}

export interface ControlAck {
  readonly id: string;
  readonly action: string;
  readonly ok: boolean;
  readonly detail: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

export function writeJson(files: Files, path: string, value: unknown, sync: boolean): void {
  writeFileAtomically(files, path, encoder.encode(`${JSON.stringify(value)}\n`), { sync });
}

/**
 * Keeps a JSON file such as the member's status current without blocking the duty cycle: each
 * `write` replaces the file off the event loop ({@link Files.writeLater}), one write at a time; a
 * value given while one is in flight is written after it, values in between skipped. Measured in
 * cluster members on this project's machines, the synchronous write and rename of the status took
 * 0.7-7 ms a call (ext4 allocates a file's blocks when it is renamed over another). Files without
 * `writeLater` (in memory, for tests and the simulator) are written at once. Failures go to
 * `onError`; the file then keeps its last content.
 */
export class StatusWriter {
  private inFlight: Promise<void> | null = null;
  private pending: Uint8Array | null = null;

  constructor(
    private readonly files: Files,
    private readonly path: string,
    private readonly onError: (error: unknown) => void,
  ) {}

  write(value: unknown): void {
    if (this.files.writeLater === undefined) {
      try {
        writeJson(this.files, this.path, value, false);
      } catch (error) {
        this.onError(error);
      }
      return;
    }
    const bytes = encoder.encode(`${JSON.stringify(value)}\n`);
    if (this.inFlight !== null) {
      this.pending = bytes;
      return;
    }
    this.start(bytes);
  }

  /** Resolves once the last value given is written (or has failed). */
  async settled(): Promise<void> {
    while (this.inFlight !== null) await this.inFlight;
  }

  private start(bytes: Uint8Array): void {
    this.inFlight = this.files.writeLater!(this.path, bytes).then(
      () => this.next(),
      (error: unknown) => {
        this.onError(error);
        this.next();
      },
    );
  }

  private next(): void {
    this.inFlight = null;
    const bytes = this.pending;
    this.pending = null;
    if (bytes !== null) this.start(bytes);
  }
}

export function readJson<T>(files: Files, path: string): T | undefined {
  if (!files.exists(path)) return undefined;
  const file = files.open(path, 'read');
  try {
    const bytes = new Uint8Array(file.size());
    file.read(bytes, 0, bytes.length, 0);
    return JSON.parse(decoder.decode(bytes)) as T;
  } finally {
    file.close();
  }
}

/** Takes a tool's request out of `dir`, if there is one: read and removed, so it is acted on once. */
export function takeControlRequest(files: Files, dir: string): ControlRequest | { readonly invalid: string } | undefined {
  const path = `${dir}/${CONTROL_FILE}`;
  if (!files.exists(path)) return undefined;
  let request: Partial<ControlRequest> | undefined;
  try {
    request = readJson<Partial<ControlRequest>>(files, path);
  } catch (error) {
    files.remove(path);
    return { invalid: `${path} is not JSON: ${(error as Error).message}` };
  }
  files.remove(path);
  if (request === undefined || typeof request.id !== 'string' || !CONTROL_ACTIONS.includes(request.action as ControlAction)) {
    return { invalid: `${path}: expected {id, action} with action one of ${CONTROL_ACTIONS.join(', ')}, got ${JSON.stringify(request)}` };
  }
  return request as ControlRequest;
}
