/** The rehearsal's table (what a person reads) and its `--json` line (what a pipeline reads). */
import type { Rehearsal } from './rehearse.js';
import type { Scenario } from './scenarios.js';

const pad = (s: string | number, n: number) => String(s).padEnd(n);
const secs = (x: number | null) => (x === null ? '-' : `${x.toFixed(1)}s`);

export function table(s: Scenario, r: Rehearsal): string {
  const out: string[] = [];
  out.push(`rehearsal ${s.name}: ${s.what}`);
  out.push(`  ${r.service}, ${r.strategy}; engine ${r.line.engine} (the real controller decided)`);
  out.push('', 'rehearsal-only patch (production overlay otherwise unchanged):');
  for (const p of r.patch) out.push(`  ${p}`);
  out.push('', 'timeline (seconds from the release):');
  for (const e of r.timeline) out.push(`  ${e.at.toFixed(1).padStart(6)}  ${e.what}`);
  out.push('', 'traffic (production frontend, HAProxy log):');
  out.push(`  ${pad('step', 34)}${pad('setWeight', 11)}${pad('observed', 13)}${pad('new/all', 12)}window`);
  for (const st of r.steps)
    out.push(
      `  ${pad(st.label, 34)}${pad(st.setWeight, 11)}${pad(st.observedShare === null ? 'not reached' : `${st.observedShare}%`, 13)}${pad(`${st.toNew}/${st.requests}`, 12)}${st.from === null ? '-' : `${(st.from / 1000).toFixed(1)}..${((st.to ?? 0) / 1000).toFixed(1)} s`}`,
    );
  out.push('', 'analysis measurements (AnalysisRuns of the controller):');
  if (!r.measurements.length) out.push('  none');
  for (const m of r.measurements)
    out.push(
      `  ${pad(Number.isNaN(m.at) ? '-' : `${m.at.toFixed(1)}s`, 8)}${pad(m.run, 34)}${pad(m.metric, 26)}${pad(m.phase, 12)}${m.value}`,
    );
  out.push('', 'scripts:');
  for (const c of r.scripts) out.push(`  exit ${c.exit}  ${c.command}`);
  out.push('');
  out.push(`final phase: ${r.finalPhase}${r.finalMessage ? ` (${r.finalMessage})` : ''}`);
  out.push(`outcome: ${r.line.outcome}`);
  out.push(
    `load: ${r.load.requests} requests, ${r.load.failed} failed ${JSON.stringify(r.load.statuses)}${r.load.capped ? ' (bound reached)' : ''}`,
  );
  out.push(
    `new version: ${r.newVersionRequests} production requests; ${r.requestsAfterNoTraffic} accepted after its weight went to 0`,
  );
  out.push(
    `detect ${secs(r.line.detectSeconds)} (its first request -> abort), rollback ${secs(r.line.rollbackSeconds)} (abort -> no traffic), release ${r.releaseSeconds.toFixed(1)}s, whole rehearsal ${r.wholeSeconds.toFixed(1)}s`,
  );
  return out.join('\n');
}
