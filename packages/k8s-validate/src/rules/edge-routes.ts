import { find, type Rule, type Violation, violation } from '../policy.js';
import type { Located } from '../resources.js';

// biome-ignore lint/suspicious/noExplicitAny: Gateway API objects are free-form here (the API server checks their CRD schemas)
type Any = any;

/** The only paths the edge routes to a backend (issue 15): the public API and its docs. */
export const PUBLIC_PREFIXES = ['/api', '/docs'];

const isGateway = (ref: Any) =>
  (ref.kind ?? 'Gateway') === 'Gateway' &&
  (ref.group ?? 'gateway.networking.k8s.io') === 'gateway.networking.k8s.io';

/** The Gateway listener an HTTPRoute parentRef attaches to (undefined: no such Gateway/listener). */
function listenerOf(gateway: Located | undefined, sectionName: string | undefined): Any[] {
  const listeners: Any[] = gateway?.resource.spec?.listeners ?? [];
  return sectionName === undefined ? listeners : listeners.filter((l) => l.name === sectionName);
}

export const edgeRoutes: Rule = {
  name: 'edge-routes',
  description:
    'The edge is Gateway API (no Ingress): every HTTPRoute attaches to a rendered Gateway listener (or, for mesh routes, a rendered Service) and sends only to rendered Services on ports they have; routes with backends on the Gateway match only /api and /docs; the plain-HTTP listener only redirects; every HTTPS listener’s certificate is written by a Certificate that covers the host names of the routes on it; VirtualServices route rendered Services.',
  check(ctx) {
    const out: Violation[] = [];
    for (const item of ctx.items.filter((i) => i.resource.kind === 'Ingress'))
      out.push(
        violation(this.name, item, 'an Ingress: the edge is the Gateway API (ingress-nginx is retired)'),
      );
    const routes = ctx.items.filter((i) => i.resource.kind === 'HTTPRoute');
    const serviceHasPort = (name: string, port: number | undefined) => {
      const svc = find(ctx, 'Service', name);
      if (!svc) return `Service ${name} is not in the render`;
      if (port !== undefined && !(svc.resource.spec?.ports ?? []).some((p: Any) => p.port === port))
        return `Service ${name} has no port ${port}`;
      return undefined;
    };
    for (const item of routes) {
      const spec = item.resource.spec ?? {};
      const rules: Any[] = spec.rules ?? [];
      for (const ref of spec.parentRefs ?? []) {
        if (isGateway(ref)) {
          const gateway = ref.namespace ? undefined : find(ctx, 'Gateway', ref.name);
          const listeners = listenerOf(gateway, ref.sectionName);
          if (!gateway) {
            out.push(violation(this.name, item, `parentRef Gateway ${ref.name} is not in the render`));
            continue;
          }
          if (listeners.length === 0) {
            out.push(violation(this.name, item, `Gateway ${ref.name} has no listener ${ref.sectionName}`));
            continue;
          }
          const withBackends = rules.filter((r) => (r.backendRefs ?? []).length > 0);
          for (const l of listeners) {
            if (l.protocol === 'HTTP' && withBackends.length > 0)
              out.push(
                violation(this.name, item, `listener ${l.name} is plain HTTP: it may only redirect to HTTPS`),
              );
            for (const r of withBackends)
              for (const m of r.matches ?? [{}]) {
                const path = m.path ?? { type: 'PathPrefix', value: '/' };
                if (path.type !== 'PathPrefix' || !PUBLIC_PREFIXES.includes(path.value))
                  out.push(
                    violation(
                      this.name,
                      item,
                      `routes ${path.type} ${path.value} to a backend: the edge routes only PathPrefix ${PUBLIC_PREFIXES.join(', ')}`,
                    ),
                  );
              }
            if (l.protocol === 'HTTPS') {
              for (const c of l.tls?.certificateRefs ?? []) {
                const cert = ctx.items.find(
                  (i) => i.resource.kind === 'Certificate' && i.resource.spec?.secretName === c.name,
                );
                const dns: string[] = cert?.resource.spec?.dnsNames ?? [];
                for (const host of spec.hostnames ?? [])
                  if (cert && !dns.includes(host))
                    out.push(
                      violation(
                        this.name,
                        item,
                        `host ${host} is not among the dnsNames of Certificate ${cert.resource.metadata.name} (listener ${l.name})`,
                      ),
                    );
              }
            }
          }
        } else if ((ref.kind ?? '') === 'Service') {
          if (!find(ctx, 'Service', ref.name))
            out.push(violation(this.name, item, `parentRef Service ${ref.name} is not in the render`));
        }
      }
      for (const r of rules)
        for (const b of r.backendRefs ?? []) {
          if ((b.kind ?? 'Service') !== 'Service' || b.namespace) continue;
          const problem = serviceHasPort(b.name, b.port);
          if (problem) out.push(violation(this.name, item, `backendRef: ${problem}`));
        }
    }
    for (const item of ctx.items.filter((i) => i.resource.kind === 'VirtualService')) {
      const spec = item.resource.spec ?? {};
      for (const host of spec.hosts ?? [])
        if (!find(ctx, 'Service', host))
          out.push(violation(this.name, item, `host ${host} is not a rendered Service`));
      for (const h of spec.http ?? [])
        for (const d of h.route ?? []) {
          const problem = serviceHasPort(d.destination?.host, d.destination?.port?.number);
          if (problem) out.push(violation(this.name, item, `route ${h.name}: ${problem}`));
        }
    }
    return out;
  },
};
