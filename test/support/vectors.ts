/**
 * Loads the golden wire vectors captured from the Aeron C driver (`shared/wire/vectors/*.json`,
 * format `aeron-wire-vectors/1`). The directory is `$SKEIN_VECTORS_DIR`, or `../shared/wire/vectors`
 * next to the repository root (the nearest ancestor holding the `skein` package.json).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A decoded frame as documented in the vector file (field names of PROTOCOL.md §3). */
export type VectorFrame = Record<string, any>;

export interface VectorDatagram {
  /** Vector file name, e.g. `core-frames.json`. */
  file: string;
  /** Stable name (catalogue files only). */
  id?: string;
  /** Position in the full capture of its scenario. */
  index: number;
  hex: string;
  bytes: Uint8Array;
  datagramLength: number;
  direction: string;
  frames: VectorFrame[];
}

export interface VectorFile {
  file: string;
  kind: string;
  datagrams: VectorDatagram[];
}

/** Finds the vectors directory; throws naming the places it looked. */
export function vectorsDir(): string {
  const override = process.env['SKEIN_VECTORS_DIR'];
  if (override !== undefined && override !== '') return resolve(override);
  const starts = [dirname(fileURLToPath(import.meta.url)), process.cwd()];
  for (const start of starts) {
    const root = findRepoRoot(start);
    if (root === undefined) continue;
    const dir = resolve(root, '..', 'shared', 'wire', 'vectors');
    if (existsSync(dir)) return dir;
  }
  throw new Error(`wire vectors not found from ${starts.join(', ')}; set SKEIN_VECTORS_DIR`);
}

function findRepoRoot(start: string): string | undefined {
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'skein') return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Every vector file, sorted by name. */
export function loadVectorFiles(dir: string = vectorsDir()): VectorFile[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((file) => {
      const json = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { kind: string; datagrams: any[] };
      return { file, kind: json.kind, datagrams: json.datagrams.map((d) => toDatagram(file, d)) };
    });
}

/** Every datagram of every vector file. */
export function loadVectors(dir?: string): VectorDatagram[] {
  return loadVectorFiles(dir).flatMap((f) => f.datagrams);
}

function toDatagram(file: string, d: any): VectorDatagram {
  const bytes = new Uint8Array(Buffer.from(d.hex as string, 'hex'));
  if (bytes.length !== d.datagramLength) {
    throw new Error(`${file} datagram ${d.index}: hex has ${bytes.length} bytes, datagramLength says ${d.datagramLength}`);
  }
  const datagram: VectorDatagram = {
    file,
    index: d.index,
    hex: d.hex,
    bytes,
    datagramLength: d.datagramLength,
    direction: d.direction,
    frames: d.frames,
  };
  if (d.id !== undefined) datagram.id = d.id;
  return datagram;
}
