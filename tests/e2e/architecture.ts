/**
 * The service-to-service edges of the architecture, read from the README's diagram (the mermaid
 * flowchart under "Architecture"): direct arrows between services, and publisher -> consumer
 * through the broker (an arrow into the RabbitMQ node and one out of it).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

export function architectureEdges(services: string[]): [string, string][] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const diagram = /```mermaid\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!diagram) throw new Error('README.md: no mermaid diagram');
  // Node ids and their labels: gw[api-gateway :8080], mq{{RabbitMQ mdp.events}}, pgu[(PostgreSQL ...)].
  const label = new Map<string, string>();
  for (const m of diagram.matchAll(/\b(\w+)(?:\[\(|\(\[|\{\{|\[)([^\]})]+)/g))
    label.set(m[1] as string, (m[2] as string).trim());
  const service = (id: string) => services.find((s) => label.get(id)?.startsWith(s));
  const broker = [...label].find(([, l]) => /rabbitmq/i.test(l))?.[0];
  const arrows: [string, string][] = [];
  for (const line of diagram.split('\n')) {
    const m = /^\s*(\w+)\S*\s*-->(?:\|[^|]*\|)?\s*(\w+)/.exec(line);
    if (m) arrows.push([m[1] as string, m[2] as string]);
  }
  const edges = new Set<string>();
  for (const [a, b] of arrows) {
    const [sa, sb] = [service(a), service(b)];
    if (sa && sb) edges.add(`${sa}->${sb}`);
    if (sa && b === broker)
      for (const [c, d] of arrows) {
        const sd = service(d);
        if (c === broker && sd) edges.add(`${sa}->${sd}`);
      }
  }
  return [...edges].sort().map((e) => e.split('->') as [string, string]);
}
