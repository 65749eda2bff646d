import { PULL_SECRET, type Rule, violation, workloads } from '../policy.js';

export const imagePullSecret: Rule = {
  name: 'image-pull-secret',
  description: `Every pod names the GHCR pull secret (${PULL_SECRET}) in imagePullSecrets.`,
  check(ctx) {
    return workloads(ctx)
      .filter(({ template }) => !(template.spec?.imagePullSecrets ?? []).some((s) => s.name === PULL_SECRET))
      .map(({ item }) => violation(this.name, item, `imagePullSecrets does not name ${PULL_SECRET}`));
  },
};
