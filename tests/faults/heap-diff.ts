/**
 * Two V8 heap snapshots of one process compared (the soak's SOAK_HEAP_SNAPSHOTS): live size and
 * count per constructor (objects) or kind (strings, code, arrays…), and what grew most between
 * them. A snapshot is taken after a full collection, so these are live sets, not a GC sawtooth.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapSummary {
  total: number;
  by: Map<string, { size: number; count: number }>;
}

export function summarize(file: string): HeapSummary {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [
    number,
    number,
    number,
  ];
  const by = new Map<string, { size: number; count: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt] as number] as string;
    const size = snap.nodes[i + sizeAt] as number;
    // Objects by constructor; everything else (strings, code, arrays, closures…) by its kind.
    const key = type === 'object' ? (snap.strings[snap.nodes[i + nameAt] as number] ?? '?') : `(${type})`;
    const entry = by.get(key) ?? { size: 0, count: 0 };
    entry.size += size;
    entry.count++;
    by.set(key, entry);
    total += size;
  }
  return { total, by };
}

/** The `top` keys that grew most in live size from `a` to `b`. */
export function grewMost(a: HeapSummary, b: HeapSummary, top = 12) {
  const keys = new Set([...a.by.keys(), ...b.by.keys()]);
  return [...keys]
    .map((key) => {
      const x = a.by.get(key) ?? { size: 0, count: 0 };
      const y = b.by.get(key) ?? { size: 0, count: 0 };
      return { key, sizeA: x.size, sizeB: y.size, countA: x.count, countB: y.count, grew: y.size - x.size };
    })
    .sort((p, q) => q.grew - p.grew)
    .slice(0, top);
}
