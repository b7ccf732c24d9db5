/** Which schema generates which module (paths from the repository root). */
export const TARGETS = [
  { schema: 'aeron-archive-codecs.xml', out: 'src/archive/codecs/archive-codecs.ts' },
  { schema: 'aeron-archive-mark-codecs.xml', out: 'src/archive/codecs/archive-mark-codecs.ts' },
  { schema: 'aeron-cluster-codecs.xml', out: 'src/cluster/codecs/cluster-codecs.ts' },
  { schema: 'aeron-cluster-mark-codecs.xml', out: 'src/cluster/codecs/cluster-mark-codecs.ts' },
  { schema: 'aeron-cluster-node-state-codecs.xml', out: 'src/cluster/codecs/cluster-node-state-codecs.ts' },
] as const;

export const SCHEMA_DIR = 'schemas/sbe';
