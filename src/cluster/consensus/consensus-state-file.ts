/**
 * `consensus-state.dat`: what a member must not forget across a crash besides its log entries
 * (docs/cluster.md, "Members on Skein"): the candidate term, the terms its log holds with their
 * bases, and the id of the archive recording that holds its log (-1 when the log is not a
 * recording). Rewritten whole on every change (to a temporary file, synced, renamed), so a vote
 * or a join is durable before the member acts on it. Little-endian: u32 magic "SKCS", u32
 * version, f64 candidate term, u32 term count, u32 zero, f64 recording id, then per term f64 term
 * id and f64 base, and a u32 FNV-1a checksum of everything before it.
 */
import { writeFileAtomically, type Files } from '../../env/files.js';
import { ErrorCode, SkeinError, messageOf } from '../../util/errors.js';
import type { TermStart } from './consensus-log.js';

export const CONSENSUS_STATE_FILE = 'consensus-state.dat';
const MAGIC = 0x534b4353;
const VERSION = 1;
const HEADER = 32;

export interface ConsensusState {
  readonly candidateTermId: number;
  readonly terms: readonly TermStart[];
  readonly recordingId: number;
}

/** 32-bit FNV-1a over `data`: enough to tell a torn write from a whole one. */
export function fnv1a(data: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < data.length; i++) {
    h ^= data[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class ConsensusStateFile {
  readonly path: string;
  private readonly files: Files;

  constructor(files: Files, dir: string) {
    this.files = files;
    this.path = `${dir}/${CONSENSUS_STATE_FILE}`;
  }

  /** The state written last; a member's first start has none (candidate -1, no terms, no recording). */
  read(): ConsensusState {
    if (!this.files.exists(this.path)) return { candidateTermId: -1, terms: [], recordingId: -1 };
    let file;
    try {
      file = this.files.open(this.path, 'read');
    } catch (e) {
      throw new SkeinError(ErrorCode.STORAGE_FAILED, `cannot open ${this.path}: ${messageOf(e)}`, { cause: e });
    }
    try {
      const bytes = new Uint8Array(file.size());
      file.read(bytes, 0, bytes.length, 0);
      const v = new DataView(bytes.buffer);
      const bad = (why: string): never => {
        throw new SkeinError(ErrorCode.STORAGE_FAILED, `${this.path} is not a consensus state file: ${why}`);
      };
      if (bytes.length < HEADER + 4 || v.getUint32(0, true) !== MAGIC) bad(`${bytes.length} bytes, no magic`);
      if (v.getUint32(4, true) !== VERSION) bad(`version ${v.getUint32(4, true)}, expected ${VERSION}`);
      const count = v.getUint32(16, true);
      if (bytes.length !== HEADER + count * 16 + 4) bad(`${bytes.length} bytes for ${count} terms`);
      if (v.getUint32(bytes.length - 4, true) !== fnv1a(bytes.subarray(0, bytes.length - 4))) bad('checksum mismatch');
      const terms: TermStart[] = [];
      for (let i = 0; i < count; i++) terms.push({ termId: v.getFloat64(HEADER + i * 16, true), base: v.getFloat64(HEADER + 8 + i * 16, true) });
      return { candidateTermId: v.getFloat64(8, true), terms, recordingId: v.getFloat64(24, true) };
    } finally {
      file.close();
    }
  }

  write(state: ConsensusState): void {
    const bytes = new Uint8Array(HEADER + state.terms.length * 16 + 4);
    const v = new DataView(bytes.buffer);
    v.setUint32(0, MAGIC, true);
    v.setUint32(4, VERSION, true);
    v.setFloat64(8, state.candidateTermId, true);
    v.setUint32(16, state.terms.length, true);
    v.setFloat64(24, state.recordingId, true);
    state.terms.forEach((t, i) => {
      v.setFloat64(HEADER + i * 16, t.termId, true);
      v.setFloat64(HEADER + 8 + i * 16, t.base, true);
    });
    v.setUint32(bytes.length - 4, fnv1a(bytes.subarray(0, bytes.length - 4)), true);
    try {
      writeFileAtomically(this.files, this.path, bytes);
    } catch (e) {
      throw new SkeinError(ErrorCode.STORAGE_FAILED, `cannot write ${this.path}: ${messageOf(e)}`, { cause: e });
    }
  }
}

/** The terms `log` holds, in order. */
export function termsOf(log: { nextTerm(termId: number): TermStart | undefined }): TermStart[] {
  const terms: TermStart[] = [];
  for (let t = log.nextTerm(-1); t !== undefined; t = log.nextTerm(t.termId)) terms.push(t);
  return terms;
}
