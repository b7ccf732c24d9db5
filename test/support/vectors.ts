/**
 * Loads the golden wire vectors captured from the Aeron C driver (format `aeron-wire-vectors/1`).
 * They live in this repository under `test/vectors/wire/` (copied from the project's shared wire
 * specification; `test/vectors/wire/README.md` says how they were captured).
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

const WIRE_FORMAT = 'aeron-wire-vectors/1';

/** The repository's `test/vectors/wire` directory; throws naming where it looked. */
export function vectorsDir(): string {
  const root = findRepoRoot(dirname(fileURLToPath(import.meta.url)));
  const dir = root === undefined ? undefined : resolve(root, 'test', 'vectors', 'wire');
  if (dir === undefined || !existsSync(dir)) {
    throw new Error(`wire vectors not found: expected test/vectors/wire in the skein repository above ${fileURLToPath(import.meta.url)}`);
  }
  return dir;
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
      const json = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { format: string; kind: string; datagrams: any[] };
      if (json.format !== WIRE_FORMAT) throw new Error(`${join(dir, file)}: format ${String(json.format)}, expected ${WIRE_FORMAT}`);
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
