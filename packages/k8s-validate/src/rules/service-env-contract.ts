import {
  asKind,
  containersOf,
  find,
  isAppImage,
  isLongRunning,
  keysOf,
  parseImage,
  type Rule,
  type Violation,
  violation,
  workloads,
} from '../policy.js';

export const serviceEnvContract: Rule = {
  name: 'service-env-contract',
  description:
    "Each service container gets every setting its config schema (services/<name>/src/config.ts) requires, and no setting the schema does not know (OTEL_* are the tracing preload's).",
  check(ctx) {
    const out: Violation[] = [];
    for (const { item, template } of workloads(ctx)) {
      if (!isLongRunning(item.resource)) continue;
      for (const c of containersOf(template.spec)) {
        const image = c.spec.image ?? '';
        if (c.init || !isAppImage(image)) continue;
        const service = parseImage(image).repository.split('/')[2] ?? '';
        const contract = ctx.serviceEnv[service];
        if (!contract) continue; // image-registry reports unknown services
        const provided = new Set<string>();
        for (const e of c.spec.env ?? []) provided.add(e.name);
        for (const e of c.spec.envFrom ?? []) {
          const prefix = e.prefix ?? '';
          if (e.configMapRef?.name) {
            const cm = find(ctx, 'ConfigMap', e.configMapRef.name);
            const data = cm && asKind(cm.resource, 'ConfigMap');
            for (const k of Object.keys(data?.data ?? {})) provided.add(`${prefix}${k}`);
          }
          if (e.secretRef?.name) {
            const local = find(ctx, 'Secret', e.secretRef.name);
            const secret = local && asKind(local.resource, 'Secret');
            const keys = secret ? keysOf(secret) : (ctx.externalSecrets[e.secretRef.name]?.keys ?? []);
            for (const k of keys) provided.add(`${prefix}${k}`);
          }
        }
        for (const name of [...provided].sort())
          if (!contract.known.includes(name) && !name.startsWith('OTEL_'))
            out.push(
              violation(this.name, item, `container ${c.name}: ${name} is not a setting of ${service}`),
            );
        for (const name of contract.required)
          if (!provided.has(name))
            out.push(
              violation(this.name, item, `container ${c.name}: required setting ${name} is not provided`),
            );
      }
    }
    return out;
  },
};
