/**
 * monitoring/alertmanager: the config, its Slack template and the route cases, checked by amtool.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { type Run, root, run } from './monitoring.js';

export const configFile = (): string => path.join(root(), 'alertmanager', 'alertmanager.yaml');
export const routeCasesFile = (): string => path.join(root(), 'alertmanager', 'tests', 'routes.yaml');

export interface Route {
  receiver?: string;
  matchers?: string[];
  routes?: Route[];
  continue?: boolean;
}
export interface AlertmanagerConfig {
  route: Route;
  receivers: { name: string }[];
  inhibit_rules?: { source_matchers: string[]; target_matchers: string[]; equal: string[] }[];
}

export const readConfig = (): AlertmanagerConfig =>
  parse(readFileSync(configFile(), 'utf8')) as AlertmanagerConfig;

export interface RouteCase {
  name: string;
  labels: Record<string, string>;
  /** The receivers Alertmanager must pick, in order. */
  receivers: string[];
}

export const routeCases = (): RouteCase[] => parse(readFileSync(routeCasesFile(), 'utf8')) as RouteCase[];

export function checkConfig(): Run {
  return run('amtool', ['check-config', configFile()], path.dirname(configFile()));
}

/** `amtool config routes test`: exits 1 unless the labels reach exactly the expected receivers. */
export function testRoute(c: RouteCase): Run {
  return run(
    'amtool',
    [
      'config',
      'routes',
      'test',
      `--config.file=${configFile()}`,
      `--verify.receivers=${c.receivers.join(',')}`,
      ...Object.entries(c.labels).map(([k, v]) => `${k}=${v}`),
    ],
    path.dirname(configFile()),
  );
}

/** Renders each Slack template with amtool's example data: fails on a template error. */
export function renderTemplates(names: string[]): Run {
  return run(
    'amtool',
    [
      'template',
      'render',
      `--template.glob=${path.join(root(), 'alertmanager', '*.tmpl')}`,
      `--template.text=${names.map((n) => `{{ template "${n}" . }}`).join('\n')}`,
    ],
    path.dirname(configFile()),
  );
}

/** `name="value"` matchers only (what this config uses); anything else is an error here. */
export function parseMatcher(m: string): [string, string] {
  const found = /^([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"$/.exec(m);
  if (!found)
    throw new Error(`matcher ${m}: only name="value" matchers are understood by the route coverage check`);
  return [found[1] as string, found[2] as string];
}

export interface RouteNode {
  /** Root, then the index path, e.g. "route.routes[2]". */
  path: string;
  receiver: string;
  /** Every matcher from the root down to this route. */
  matchers: [string, string][];
  /** Matchers of the earlier siblings on the way down: a case for this route must match none of them. */
  shadowedBy: [string, string][][];
  leaf: boolean;
}

/** Every route of the tree with its effective receiver. */
export function routeNodes(config = readConfig()): RouteNode[] {
  const out: RouteNode[] = [];
  const walk = (
    r: Route,
    p: string,
    inherited: string,
    matchers: [string, string][],
    shadowed: [string, string][][],
  ) => {
    const receiver = r.receiver ?? inherited;
    const own = [...matchers, ...(r.matchers ?? []).map(parseMatcher)];
    const children = r.routes ?? [];
    out.push({ path: p, receiver, matchers: own, shadowedBy: shadowed, leaf: children.length === 0 });
    children.forEach((c, i) => {
      const earlier = children.slice(0, i).map((s) => (s.matchers ?? []).map(parseMatcher));
      walk(c, `${p}.routes[${i}]`, receiver, own, [...shadowed, ...earlier]);
    });
  };
  walk(config.route, 'route', config.route.receiver ?? '', [], []);
  return out;
}

const matchesAll = (labels: Record<string, string>, ms: [string, string][]) =>
  ms.every(([k, v]) => labels[k] === v);

/**
 * Whether a case exercises a route: its labels match the route's matchers and none of the earlier
 * siblings' (so Alertmanager would stop there), and it expects that route's receiver; for a route
 * with children, it matches none of them (the route's own receiver is used).
 */
export function exercises(c: RouteCase, node: RouteNode, config = readConfig()): boolean {
  if (!matchesAll(c.labels, node.matchers)) return false;
  if (node.shadowedBy.some((ms) => ms.length && matchesAll(c.labels, ms))) return false;
  if (!node.leaf) {
    const children = routeNodes(config).filter(
      (n) => n.path.startsWith(`${node.path}.routes[`) && !n.path.slice(node.path.length + 8).includes('.'),
    );
    if (children.some((ch) => matchesAll(c.labels, ch.matchers))) return false;
  }
  return c.receivers[0] === node.receiver;
}
