/**
 * Policies as code: the project's own rules, one per file in rules/. Each is named, checks the
 * rendered objects of one render target (an overlay, the Argo CD project, the cluster issuers)
 * and reports violations that name the source file, the resource and the rule. What the API
 * server judges itself (schemas, unknown fields, CRD validation, Pod Security) is not repeated
 * here: see server.ts.
 */
import type { PolicyContext, Rule, Violation } from './policy.js';
import { autoscalingConsistent } from './rules/autoscaling-consistent.js';
import { configReferences } from './rules/config-references.js';
import { contractLabels } from './rules/contract-labels.js';
import { contractProbes } from './rules/contract-probes.js';
import { edgeRoutes } from './rules/edge-routes.js';
import { gracefulShutdown } from './rules/graceful-shutdown.js';
import { imagePullSecret } from './rules/image-pull-secret.js';
import { imageRegistry } from './rules/image-registry.js';
import { imageTagPinned } from './rules/image-tag-pinned.js';
import { mongodbReplicaCount } from './rules/mongodb-replica-count.js';
import { namespacePsa } from './rules/namespace-psa.js';
import { networkPolicySelectsPods } from './rules/networkpolicy-selects-pods.js';
import { podHardening } from './rules/pod-hardening.js';
import { podMonitorContract } from './rules/podmonitor-contract.js';
import { resourcesSet } from './rules/resources-set.js';
import { rolloutConsistent } from './rules/rollout-consistent.js';
import { serviceEnvContract } from './rules/service-env-contract.js';
import { serviceSelectsPods } from './rules/service-selects-pods.js';
import { statefulPvc } from './rules/stateful-pvc.js';
import { syncWaves } from './rules/sync-waves.js';
import { writableTmp } from './rules/writable-tmp.js';

export type { ExternalSecret, PolicyContext, Rule, ServiceEnv, Violation } from './policy.js';
export { parseImage, selectorMatches } from './policy.js';

export const RULES: Rule[] = [
  podHardening,
  writableTmp,
  resourcesSet,
  contractProbes,
  gracefulShutdown,
  imageTagPinned,
  imageRegistry,
  imagePullSecret,
  serviceSelectsPods,
  networkPolicySelectsPods,
  configReferences,
  statefulPvc,
  contractLabels,
  namespacePsa,
  podMonitorContract,
  autoscalingConsistent,
  syncWaves,
  mongodbReplicaCount,
  serviceEnvContract,
  rolloutConsistent,
  edgeRoutes,
];

export function runRules(ctx: PolicyContext, rules: Rule[] = RULES): Violation[] {
  return rules.flatMap((r) => r.check(ctx));
}

export function formatViolation(v: Violation): string {
  return `file: ${v.file}\nresource: ${v.resource}\nrule: ${v.rule}: ${v.message}`;
}
