#!/usr/bin/env node
/**
 * npm run validate:k8s — two stages.
 *  1. Offline: renders every overlay with `kubectl kustomize`, checks the render is
 *     deterministic and runs the project's own policies (src/rules/).
 *  2. Server side (skipped with --offline): a local API server (@mdp/cluster, or --kubeconfig)
 *     takes every render, and each datastore's, through `kubectl apply --server-side
 *     --dry-run=server --validate=strict`, Namespaces first; then the dev overlay is applied for
 *     real and every Deployment/StatefulSet must become ready, every Job get its pod and, with
 *     the real Argo Rollouts controller running (own cluster), every Rollout become Healthy.
 * Exit 1 on any problem; each problem prints its file, resource and rule.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { kubectlFor, startCluster } from '@mdp/cluster/cluster';
import { parseArgs } from './cli-args.js';
import { renderTarget } from './render.js';
import { databaseTargets, runServerStage, startRolloutsController } from './server.js';
import { formatViolation, RULES, TARGETS, validateRepo } from './validate.js';

const args = parseArgs(
  process.argv.slice(2),
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..'),
);
const repoRoot = path.resolve(args.root);
const targets = args.targets.length > 0 ? args.targets : TARGETS;
const out = (s: string) => process.stdout.write(`${s}\n`);
const started = performance.now();
const seconds = (from: number) => ((performance.now() - from) / 1000).toFixed(1);

const reports = await validateRepo(repoRoot, targets);
let problems = 0;
for (const r of reports) {
  for (const p of r.problems) out(`\n${formatViolation(p)}`);
  problems += r.problems.length;
}
out('');
for (const r of reports) {
  out(
    `${r.problems.length === 0 ? 'ok  ' : 'FAIL'} ${r.target}: ${r.documents} documents, ${r.deterministic ? 'deterministic' : 'NOT deterministic'}, ${r.problems.length} problem(s)`,
  );
}
out(
  `validate:k8s offline: ${reports.length} renders, ${reports.reduce((n, r) => n + r.documents, 0)} documents, ${RULES.length} rules, ${problems} problem(s) in ${seconds(started)} s`,
);

if (!args.offline) {
  const serverStarted = performance.now();
  const renders = await Promise.all(targets.map((t) => renderTarget(repoRoot, t)));
  const dbTargets = args.targets.length > 0 ? [] : databaseTargets(repoRoot);
  const dbRenders = await Promise.all(dbTargets.map((t) => renderTarget(repoRoot, t)));
  const cluster = args.kubeconfig ? undefined : await startCluster({ log: (l) => out(`cluster: ${l}`) });
  // With its own cluster, the real Argo Rollouts controller runs too, so that the applied dev
  // overlay's Rollouts must become Healthy.
  const controller = cluster
    ? await startRolloutsController(
        cluster.kubeconfig,
        path.join(cluster.dir, 'rollouts-controller.log'),
        cluster.kubectl,
      )
    : undefined;
  const clusterSeconds = seconds(serverStarted);
  try {
    const { kubectl } = args.kubeconfig
      ? kubectlFor(args.kubeconfig)
      : (cluster as NonNullable<typeof cluster>);
    const stage = await runServerStage(kubectl, renders, dbRenders, { rollouts: controller !== undefined });
    const all = [
      ...stage.namespaceProblems,
      ...stage.reports.flatMap((r) => r.problems),
      ...(stage.applied?.problems ?? []),
    ];
    for (const p of all) out(`\n${formatViolation(p)}`);
    problems += all.length;
    out('');
    for (const r of stage.reports) {
      out(
        `${r.problems.length === 0 ? 'ok  ' : 'FAIL'} server ${r.target}: ${r.accepted} of ${r.documents} objects accepted (dry run), ${r.problems.length} problem(s)`,
      );
    }
    if (stage.applied) {
      const w = Object.entries(stage.applied.workloads);
      out(
        `${stage.applied.problems.length === 0 ? 'ok  ' : 'FAIL'} applied ${stage.applied.target}: ${w.filter(([k]) => /^(Deployment|StatefulSet)\//.test(k)).length} Deployments/StatefulSets ready, ${w.filter(([k]) => k.startsWith('Rollout/')).length} Rollouts Healthy, ${w.filter(([k]) => k.startsWith('Job/')).length} Jobs with a pod`,
      );
      for (const [k, v] of w) out(`       ${k}: ${v}`);
    }
    out(
      `validate:k8s server: ${stage.reports.length} renders, ${stage.reports.reduce((n, r) => n + r.accepted, 0)} objects accepted; cluster ${clusterSeconds} s, dry runs ${stage.timings.dryRun} s, apply ${stage.timings.apply} s`,
    );
  } finally {
    await controller?.stop();
    await cluster?.stop();
  }
}
out(`validate:k8s: ${problems} problem(s) in ${seconds(started)} s`);
process.exit(problems === 0 ? 0 : 1);
