/**
 * `npm run monitoring:check`: the static proof of monitoring/ in seconds — promtool check and test of
 * every rule file (the hand-written cases and the generated SLO cases), Sloth and dashboard
 * regeneration, amtool check-config and every route case. Prints the figures; exits 1 listing every
 * problem found.
 */
import path from 'node:path';
import { repoRoot } from '@mdp/platform/tools';
import { checkConfig, routeCases, testRoute } from './alertmanager.js';
import { DASHBOARDS, staleDashboards } from './dashboards.js';
import {
  alertCases,
  alertRules,
  checkRules,
  promtoolTestFiles,
  readTest,
  recordingRules,
  ruleFiles,
  stageRules,
  testRules,
} from './monitoring.js';
import { slos, stale } from './slo.js';
import { sloPromtoolTests } from './slo-tests.js';

const started = performance.now();
const problems: string[] = [];
const files = ruleFiles();
const staged = stageRules(files);
try {
  const check = checkRules(staged.dir, files);
  if (check.status !== 0) problems.push(`${check.command}\n${check.output}`);
  const tests = [...promtoolTestFiles().map(readTest), ...sloPromtoolTests(files)];
  const result = testRules(staged.dir, tests);
  if (result.status !== 0) problems.push(`promtool test rules\n${result.output}`);
  const cases = alertCases(tests.map((t) => t.parsed));
  const alerts = alertRules(files);
  for (const a of new Set(alerts.map((r) => r.alert))) {
    const c = cases.get(a);
    if (!c?.fires || !c.silent)
      problems.push(`alert ${a}: needs a promtool case where it fires and one where it stays silent`);
  }
  const staleSpecs = stale();
  if (staleSpecs.length)
    problems.push(
      `stale Sloth output (run npm run slo:generate): ${staleSpecs.map((s) => path.relative(repoRoot(), s)).join(', ')}`,
    );
  const staleBoards = staleDashboards();
  if (staleBoards.length)
    problems.push(`stale dashboards (run npm run dashboards:generate): ${staleBoards.join(', ')}`);
  const am = checkConfig();
  if (am.status !== 0) problems.push(`${am.command}\n${am.output}`);
  const routes = routeCases();
  for (const c of routes) {
    const r = testRoute(c);
    if (r.status !== 0) problems.push(`route case "${c.name}": ${r.output.trim()}`);
  }
  let caseCount = 0;
  for (const v of cases.values()) caseCount += v.fires + v.silent;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    [
      `rule files: ${files.length}`,
      `recording rules: ${recordingRules(files).length}`,
      `alerting rules: ${alerts.length} (${new Set(alerts.map((a) => a.alert)).size} alert names)`,
      `promtool alert cases: ${caseCount} in ${tests.length} test files`,
      `SLOs: ${slos().length}`,
      `amtool route cases: ${routes.length}`,
      `dashboards: ${Object.keys(DASHBOARDS).length}`,
      `monitoring:check took ${seconds} s`,
      '',
    ].join('\n'),
  );
} finally {
  staged.cleanup();
}
if (problems.length) {
  for (const p of problems) console.error(`monitoring:check: ${p}`);
  process.exit(1);
}
