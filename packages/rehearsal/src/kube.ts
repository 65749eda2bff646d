/**
 * Following objects of the local cluster as they change: a list, then a watch of the API server
 * (`?watch=1`, one JSON event per line), re-listed when the server ends the stream. The glue must
 * see what the controller writes within a fraction of a second, and polling kubectl that often
 * would cost the two cores more than the rehearsal itself. Client certificates from the
 * cluster's kubeconfig.
 */
import { readFileSync } from 'node:fs';
import type { ClientRequest } from 'node:http';
import { request } from 'node:https';
import { parse } from 'yaml';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    ownerReferences?: { kind: string; name: string }[];
    deletionTimestamp?: string;
  };
  // biome-ignore lint/suspicious/noExplicitAny: objects of many kinds, read by path
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: objects of many kinds, read by path
  status?: any;
  // biome-ignore lint/suspicious/noExplicitAny: EndpointSlice keeps its endpoints at the top level
  endpoints?: any[];
}

interface Credentials {
  server: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

function credentials(kubeconfig: string): Credentials {
  const cfg = parse(readFileSync(kubeconfig, 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority': string } }[];
    users: { user: { 'client-certificate': string; 'client-key': string } }[];
  };
  const cluster = cfg.clusters[0]?.cluster;
  const user = cfg.users[0]?.user;
  if (!cluster || !user) throw new Error(`${kubeconfig}: no cluster or user`);
  return {
    server: cluster.server,
    ca: readFileSync(cluster['certificate-authority']),
    cert: readFileSync(user['client-certificate']),
    key: readFileSync(user['client-key']),
  };
}

function getJson(c: Credentials, path: string, timeoutMs = 10_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${c.server}${path}`,
      { ca: c.ca, cert: c.cert, key: c.key, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => {
          if ((res.statusCode ?? 0) >= 300) reject(new Error(`GET ${path}: ${res.statusCode} ${body}`));
          else resolve(JSON.parse(body));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** The objects under one collection path, kept current; `onChange` after every event. */
export class Informer {
  readonly objects = new Map<string, KubeObject>();
  private req: ClientRequest | undefined;
  private stopped = false;
  private synced: Promise<void>;

  constructor(
    private readonly creds: Credentials,
    /** e.g. /apis/apps/v1/namespaces/NS/replicasets */
    readonly path: string,
    private readonly onChange: (type: string, obj: KubeObject) => void,
  ) {
    this.synced = this.run();
  }

  /** Resolves after the first list. */
  ready(): Promise<void> {
    return this.synced;
  }

  private async list(): Promise<string> {
    const body = (await getJson(this.creds, this.path)) as {
      items: KubeObject[];
      metadata: { resourceVersion: string };
    };
    const seen = new Set<string>();
    for (const item of body.items) {
      seen.add(item.metadata.name);
      this.objects.set(item.metadata.name, item);
      this.onChange('ADDED', item);
    }
    for (const [name, obj] of this.objects)
      if (!seen.has(name)) {
        this.objects.delete(name);
        this.onChange('DELETED', obj);
      }
    return body.metadata.resourceVersion;
  }

  private async run(): Promise<void> {
    const rv = await this.list();
    void this.watchFrom(rv);
  }

  private async watchFrom(resourceVersion: string): Promise<void> {
    let rv = resourceVersion;
    while (!this.stopped) {
      const ended = await new Promise<'gone' | 'end'>((resolve) => {
        const sep = this.path.includes('?') ? '&' : '?';
        const req = request(
          `${this.creds.server}${this.path}${sep}watch=1&allowWatchBookmarks=true&resourceVersion=${rv}`,
          { ca: this.creds.ca, cert: this.creds.cert, key: this.creds.key },
          (res) => {
            let buf = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => {
              buf += d;
              for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
                const line = buf.slice(0, nl);
                buf = buf.slice(nl + 1);
                if (!line.trim()) continue;
                const ev = JSON.parse(line) as { type: string; object: KubeObject & { code?: number } };
                if (ev.type === 'ERROR') {
                  resolve('gone');
                  req.destroy();
                  return;
                }
                rv = ev.object.metadata.resourceVersion ?? rv;
                if (ev.type === 'BOOKMARK') continue;
                if (ev.type === 'DELETED') this.objects.delete(ev.object.metadata.name);
                else this.objects.set(ev.object.metadata.name, ev.object);
                this.onChange(ev.type, ev.object);
              }
            });
            res.on('end', () => resolve('end'));
            res.on('error', () => resolve('end'));
          },
        );
        req.on('error', () => resolve('end'));
        req.end();
        this.req = req;
      });
      if (this.stopped) return;
      if (ended === 'gone') rv = await this.list().catch(() => rv);
    }
  }

  stop(): void {
    this.stopped = true;
    this.req?.destroy();
  }
}

/** Informers over one kubeconfig. */
export function informers(kubeconfig: string) {
  const creds = credentials(kubeconfig);
  return {
    inform: (path: string, onChange: (type: string, obj: KubeObject) => void) =>
      new Informer(creds, path, onChange),
    get: (path: string) => getJson(creds, path),
  };
}
