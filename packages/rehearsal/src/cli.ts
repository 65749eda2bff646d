#!/usr/bin/env node
/**
 * npm run rehearse -- <scenario>|all [--json] [--scale S] [--rate R] [--scrape SECONDS] [--verbose]
 *
 * Starts the environment (local cluster, Argo Rollouts controller, Prometheus, HAProxy, the
 * services), runs the scenario(s), prints the table of each and, with --json, one JSON line per
 * scenario last. --scale multiplies every duration of the production overlay (default 0.2:
 * production's 30 s pause lasts 6 s; 1 = production's timings). Exit 0 when every scenario ended
 * as expected, 1 otherwise, 2 on a usage error.
 */
import { parseArgs } from 'node:util';
import { startEnvironment } from './environment.js';
import { DEFAULT_RATE, rehearse } from './rehearse.js';
import { table } from './report.js';
import { SCENARIO_NAMES, SCENARIOS } from './scenarios.js';

const say = (s: string) => process.stdout.write(`${s}\n`);
const usage = `usage: npm run rehearse -- <${SCENARIO_NAMES.join('|')}|all> [--json] [--scale S] [--rate R] [--scrape SECONDS] [--verbose]`;

let parsed: ReturnType<
  typeof parseArgs<{ options: Record<string, { type: 'string' | 'boolean' }>; allowPositionals: true }>
>;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      json: { type: 'boolean' },
      scale: { type: 'string' },
      rate: { type: 'string' },
      scrape: { type: 'string' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${usage}\n`);
  process.exit(2);
}
const { values, positionals } = parsed;
if (values.help) {
  say(usage);
  process.exit(0);
}
const names = positionals[0] === 'all' ? SCENARIO_NAMES : positionals;
const scale = Number(values.scale ?? '0.2');
const rate = Number(values.rate ?? String(DEFAULT_RATE));
if (!names.length || names.some((n) => !SCENARIOS[n]) || !(scale > 0 && scale <= 1) || !(rate > 0)) {
  process.stderr.write(`${usage}\n`);
  process.exit(2);
}

const log = values.verbose ? (l: string) => say(l) : () => {};
const started = performance.now();
say(`rehearse: starting the environment (durations x${scale}, load ${rate} req/s)`);
const env = await startEnvironment({
  scale,
  ...(values.scrape ? { scrapeSeconds: Number(values.scrape) } : {}),
  log: (l) => say(`rehearse: ${l}`),
});
let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  await env.stop();
  process.exit(130);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
const lines: string[] = [];
let ok = true;
try {
  for (const name of names) {
    const s = SCENARIOS[name];
    if (!s) continue;
    say(`\nrehearse: ${name}`);
    const r = await rehearse(env, s, { rate, log });
    say(table(s, r));
    if (r.line.outcome !== s.expected) {
      ok = false;
      say(`rehearse: ${name} ended ${r.line.outcome}, expected ${s.expected}`);
    }
    lines.push(JSON.stringify(r.line));
  }
} catch (err) {
  ok = false;
  say(`rehearse: ${(err as Error).stack ?? err}`);
} finally {
  await env.stop();
}
say(`\nrehearse: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
if (values.json) for (const l of lines) say(l);
process.exit(ok ? 0 : 1);
