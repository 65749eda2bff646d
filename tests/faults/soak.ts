/**
 * `npm run soak` (issue 15; not in CI): a steady order load through the gateway for SOAK_MINUTES
 * (default 10) against the whole platform as processes (tracing preload on, as in production),
 * sampling every service's resident memory, heap and event-loop lag (p99) from its own /metrics
 * every SOAK_SAMPLE_SECONDS (default 30). Prints one row per sample, then per service the first and
 * the last third of the run (the first sample, the warm-up, left out) and whether it stayed flat:
 * RSS (median) and heap (its floor: the lowest sample) within 10% (+16 MB), event-loop p99 (median)
 * within 2× (+20 ms). At the end
 * every acknowledged order must have had its one order.created consumed. Exit 1 if anything grew
 * or was lost.
 *   SOAK_MINUTES=2 npm run soak          a shorter run
 *   SOAK_CONCURRENCY=8 npm run soak      more shoppers ordering at once (default 4)
 *   SOAK_HEAP_SNAPSHOTS=order-service npm run soak
 *                                        also a heap snapshot of those services (comma-separated)
 *                                        after the first third and at the end, compared (heap-diff.ts):
 *                                        live sizes after a full GC, and what grew most
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from '@mdp/stack/services';
import pg from 'pg';
import { type AckedOrder, failureCauses, orderLoad, type Shopper, signUp } from '../drills/lib/load.js';
import { sleep, waitFor } from '../drills/lib/procs.js';
import { startStack } from '../e2e/stack.js';
import { everyOrderCreatedOnce } from './checks.js';
import { grewMost, type HeapSummary, summarize } from './heap-diff.js';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 10);
const SAMPLE_S = Number(process.env.SOAK_SAMPLE_SECONDS ?? 30);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 4);
const SERIES = {
  rss: 'process_resident_memory_bytes',
  heap: 'nodejs_heap_size_used_bytes',
  lag: 'nodejs_eventloop_lag_p99_seconds',
} as const;
type Series = keyof typeof SERIES;

const say = (line: string) => process.stdout.write(`${line}\n`);
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const ms = (seconds: number) => `${(seconds * 1000).toFixed(1)} ms`;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? ((s[(s.length - 1) >> 1] as number) + (s[s.length >> 1] as number)) / 2 : Number.NaN;
};

async function sample(url: string): Promise<Record<Series, number>> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const out = {} as Record<Series, number>;
  for (const [key, name] of Object.entries(SERIES) as [Series, string][]) {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
    out[key] = m ? Number(m[1]) : Number.NaN;
  }
  return out;
}

const flags = JSON.parse(readFileSync(path.join(ROOT, 'config/flags/flags.json'), 'utf8'));
// Every shopper is 127.0.0.1: the relaxed rate limit keeps the limiter out of the figures.
flags.flags['gateway.rate-limit-per-minute'].defaultVariant = 'relaxed';
const flagsFile = path.join(tmpdir(), `mdp-soak-flags-${process.pid}.json`);
writeFileSync(flagsFile, JSON.stringify(flags));

say(`soak: ${MINUTES} min of orders from ${CONCURRENCY} shoppers at once, a sample every ${SAMPLE_S} s`);
const SNAPSHOTS = (process.env.SOAK_HEAP_SNAPSHOTS ?? '').split(',').filter(Boolean);
const snapDir = mkdtempSync(path.join(tmpdir(), 'mdp-soak-heap-'));
const stack = await startStack({
  flagsFile,
  readyTimeoutMs: 180_000,
  nodeArgs: Object.fromEntries(
    SNAPSHOTS.map((name) => [name, ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapDir}`]]),
  ),
});
const heaps: Record<string, HeapSummary[]> = {};
/** A heap snapshot of each SNAPSHOTS service (V8 collects fully first), summarized. */
async function snapshotAll() {
  for (const name of SNAPSHOTS) {
    const pid = stack.procs[name]?.pid as number;
    const known = new Set(readdirSync(snapDir));
    process.kill(pid, 'SIGUSR2');
    const file = await waitFor(
      `a heap snapshot of ${name}`,
      () => readdirSync(snapDir).find((f) => f.endsWith('.heapsnapshot') && !known.has(f)),
      120_000,
      250,
    );
    // Written on the main thread: once the service answers again, the file is complete.
    await waitFor(
      'the service answers again',
      async () => (await fetch(`${stack.urls[name]}/healthz`)).ok,
      120_000,
    );
    heaps[name] = [...(heaps[name] ?? []), summarize(path.join(snapDir, file))];
    rmSync(path.join(snapDir, file));
  }
}
// Ctrl-C (or a SIGTERM) stops the services and drops the stack's databases before exiting.
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    say(`\n${signal}: stopping the stack`);
    void stack.stop().finally(() => process.exit(130));
  });
let failed = false;
try {
  const catalog = new pg.Client({ connectionString: stack.databases.catalog?.url });
  await catalog.connect();
  const productIds = (
    await catalog.query<{ id: string }>(
      "UPDATE products SET doc = jsonb_set(doc, '{stock}', '100000000') RETURNING id",
    )
  ).rows.map((r) => r.id);
  await catalog.end();
  const shoppers: Shopper[] = [];
  for (let i = 0; i < CONCURRENCY * 2; i++) shoppers.push(await signUp(stack.gateway));
  const acked: AckedOrder[] = [];
  const load = orderLoad({
    gateway: stack.gateway,
    shoppers,
    productIds,
    concurrency: CONCURRENCY,
    acked,
    unresolved: [],
  });
  const samples: {
    at: number;
    orders: number;
    failed: number;
    by: Record<string, Record<Series, number>>;
  }[] = [];
  const t0 = Date.now();
  const end = t0 + MINUTES * 60_000;
  say(`${'t'.padStart(6)}  ${'orders/s'.padStart(8)}  ${stack.services.map((s) => s.padEnd(40)).join('')}`);
  while (Date.now() < end) {
    await sleep(Math.min(SAMPLE_S * 1000, Math.max(0, end - Date.now())));
    const by: Record<string, Record<Series, number>> = {};
    for (const name of stack.services) by[name] = await sample(stack.urls[name] as string);
    const prev = samples.at(-1);
    const now = {
      at: Date.now(),
      orders: acked.length,
      failed: load.outcomes.filter((o) => !o.ok).length,
      by,
    };
    samples.push(now);
    const rate = (now.orders - (prev?.orders ?? 0)) / ((now.at - (prev?.at ?? t0)) / 1000);
    // The first snapshot once a third of the run is behind (the last one before the load stops).
    if (SNAPSHOTS.length && !heaps[SNAPSHOTS[0] as string] && now.at - t0 >= (end - t0) / 3)
      await snapshotAll();
    say(
      `${`${Math.round((now.at - t0) / 1000)}s`.padStart(6)}  ${rate.toFixed(0).padStart(8)}  ${stack.services
        .map((s) => {
          const v = by[s] as Record<Series, number>;
          return `rss ${mb(v.rss)} heap ${mb(v.heap)} lag ${ms(v.lag)}`.padEnd(40);
        })
        .join('')}`,
    );
  }
  if (SNAPSHOTS.length) await snapshotAll();
  await load.stop();
  const stoppedAt = Date.now();
  for (const [name, [a, b]] of Object.entries(heaps)) {
    if (!a || !b) continue;
    say(`\n${name}: live heap after a full GC ${mb(a.total)} → ${mb(b.total)}; grew most:`);
    for (const g of grewMost(a, b))
      say(
        `  ${g.key.slice(0, 40).padEnd(40)} ${mb(g.sizeA).padStart(7)} → ${mb(g.sizeB).padStart(7)}  (${g.countA} → ${g.countB})`,
      );
  }
  const failedRequests = load.outcomes.filter((o) => !o.ok).length;
  say(
    `\n${acked.length} orders acknowledged, ${load.outcomes.length} requests, ${failedRequests} failed (${failureCauses(load.outcomes, 0)})`,
  );
  const drained = await everyOrderCreatedOnce(stack, acked, stoppedAt);
  say(
    `every acknowledged order's order.created consumed once (the last ${(drained / 1000).toFixed(1)} s after the load)`,
  );

  // Flat or not: the first third against the last third, the warm-up sample left out.
  const steady = samples.slice(1);
  const third = Math.max(1, Math.floor(steady.length / 3));
  const first = steady.slice(0, third);
  const last = steady.slice(-third);
  const verdicts: Record<string, Record<Series, { first: number; last: number; flat: boolean }>> = {};
  say('\nper service: first third → last third (RSS and lag: median; heap: lowest sample)');
  for (const s of stack.services) {
    const v = {} as Record<Series, { first: number; last: number; flat: boolean }>;
    for (const key of Object.keys(SERIES) as Series[]) {
      // The heap is a sawtooth between collections: its floor (the lowest sample of the third,
      // nearest to the live set) is what a leak raises; RSS and lag by their median.
      const pick = key === 'heap' ? (xs: number[]) => Math.min(...xs) : median;
      const a = pick(first.map((x) => x.by[s]?.[key] ?? Number.NaN));
      const b = pick(last.map((x) => x.by[s]?.[key] ?? Number.NaN));
      const flat = key === 'lag' ? b <= a * 2 + 0.02 : b <= a * 1.1 + 16 * 1024 * 1024;
      v[key] = { first: a, last: b, flat };
    }
    verdicts[s] = v;
    const show = (key: Series, f: (n: number) => string) =>
      `${key} ${f(v[key].first)} → ${f(v[key].last)}${v[key].flat ? '' : ' (GREW)'}`;
    say(`  ${s.padEnd(22)} ${show('rss', mb)}, ${show('heap', mb)}, ${show('lag', ms)}`);
  }
  const grew = Object.entries(verdicts).flatMap(([s, v]) =>
    Object.entries(v)
      .filter(([, x]) => !x.flat)
      .map(([k]) => `${s} ${k}`),
  );
  if (steady.length < 3) say('\nfewer than 3 steady samples: run longer for a verdict');
  say(
    grew.length ? `\nnot flat: ${grew.join(', ')}` : '\nflat: RSS, heap and event-loop lag of every service',
  );
  say(
    JSON.stringify({
      minutes: MINUTES,
      orders: acked.length,
      failedRequests,
      samples: samples.length,
      flat: grew.length === 0,
      grew,
      verdicts,
    }),
  );
  failed = grew.length > 0;
} catch (err) {
  say(`soak failed: ${(err as Error).stack ?? err}`);
  failed = true;
} finally {
  await stack.stop();
  rmSync(snapDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
