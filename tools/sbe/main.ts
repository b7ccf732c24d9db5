/**
 * `npm run generate:sbe`: writes the TypeScript codecs of every schema in schemas/sbe (see
 * targets.ts). With `--check`, writes nothing and exits 1 naming each committed file that differs
 * from what the generator makes now.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from './generate.js';
import { buildSchema } from './schema.js';
import { SCHEMA_DIR, TARGETS } from './targets.js';
import { parseXml } from './xml.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The module text for a schema file name of schemas/sbe. */
export function generatedFor(schemaFile: string, root = ROOT): string {
  const xml = readFileSync(join(root, SCHEMA_DIR, schemaFile), 'utf8');
  try {
    return generate(buildSchema(parseXml(xml)), schemaFile);
  } catch (error) {
    throw new Error(`${SCHEMA_DIR}/${schemaFile}: ${(error as Error).message}`);
  }
}

/** Files whose committed text differs from a fresh generation. */
export function staleTargets(root = ROOT): string[] {
  const stale: string[] = [];
  for (const t of TARGETS) {
    const path = join(root, t.out);
    if (!existsSync(path) || readFileSync(path, 'utf8') !== generatedFor(t.schema, root)) stale.push(t.out);
  }
  return stale;
}

function main(argv: readonly string[]): number {
  if (argv.includes('--check')) {
    const stale = staleTargets();
    if (stale.length === 0) return 0;
    process.stderr.write(`generated SBE codecs are stale: ${stale.join(', ')}; run npm run generate:sbe\n`);
    return 1;
  }
  for (const t of TARGETS) {
    const path = join(ROOT, t.out);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, generatedFor(t.schema));
    process.stdout.write(`${t.out} from ${SCHEMA_DIR}/${t.schema}\n`);
  }
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exit(main(process.argv.slice(2)));
