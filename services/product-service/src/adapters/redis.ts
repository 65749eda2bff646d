import { createHash } from 'node:crypto';
import type { Logger } from '@mdp/platform/logger';
import type { Metrics } from '@mdp/platform/metrics';
import { connectRedis as connect } from '@mdp/platform/redis';
import type { Redis } from 'ioredis';
import type { ProductCache } from '../domain/catalog.js';
import type { ExperimentLedger } from '../domain/experiment.js';
import type { ListQuery, Page, Product } from '../domain/product.js';

/** Redis: the product read cache, under its key prefix (REDIS_KEY_PREFIX). */
export function connectRedis(url: string, keyPrefix: string) {
  return connect(url, { keyPrefix, timeoutMs: 500 });
}

const GEN_KEY = 'list:gen';

/**
 * Read-through cache in Redis. Product entries are deleted on every write; list pages live
 * under a generation number that every write increments, so no stale page is ever served
 * after a write (old generations expire by TTL). While Redis is not connected every call is
 * a miss or a no-op at once: reads go straight to the store, slower but correct.
 */
export class RedisProductCache implements ProductCache {
  private readonly counter;

  constructor(
    private readonly redis: Redis,
    private readonly deps: { metrics: Metrics; logger: Logger; ttlSeconds: number },
  ) {
    this.counter = deps.metrics.cacheRequests();
  }

  /**
   * Set when a write could not invalidate (Redis away or failing): cached entries may be
   * stale, so everything is flushed before the cache is used again.
   */
  private dirty = false;

  private get up(): boolean {
    if (this.redis.status !== 'ready') return false;
    if (this.dirty) {
      // Serve from the store until the flush has gone through.
      void this.flushAll();
      return false;
    }
    return true;
  }

  private flushing: Promise<void> | undefined;

  /** Drops every cached product and list page (SCAN over this cache's keys). */
  flushAll(): Promise<void> {
    this.flushing ??= (async () => {
      try {
        const prefix = (this.redis.options.keyPrefix as string | undefined) ?? '';
        const raw = this.redis.duplicate({ keyPrefix: '' });
        raw.on('error', () => {});
        try {
          let cursor = '0';
          do {
            const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}p:*`, 'COUNT', 500);
            cursor = next;
            if (keys.length) await raw.del(...keys);
          } while (cursor !== '0');
          await raw.incr(`${prefix}${GEN_KEY}`);
        } finally {
          raw.disconnect();
        }
        this.dirty = false;
        this.deps.logger.info('product cache flushed after a missed invalidation');
      } catch (err) {
        this.deps.logger.debug({ err }, 'cache flush failed; will retry');
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }

  private get ttl(): number {
    return this.deps.ttlSeconds;
  }

  private async read<T>(cache: string, key: () => Promise<string | null>): Promise<T | undefined> {
    if (!this.up) {
      this.counter.inc({ cache, result: 'miss' });
      return undefined;
    }
    try {
      const raw = await key();
      this.counter.inc({ cache, result: raw ? 'hit' : 'miss' });
      return raw ? (JSON.parse(raw) as T) : undefined;
    } catch (err) {
      this.counter.inc({ cache, result: 'miss' });
      this.deps.logger.debug({ err }, 'cache read failed; reading the store');
      return undefined;
    }
  }

  private async quietly(what: string, fn: () => Promise<unknown>): Promise<void> {
    if (!this.up) return;
    try {
      await fn();
    } catch (err) {
      this.deps.logger.debug({ err, what }, 'cache write failed');
    }
  }

  getProduct(id: string): Promise<Product | undefined> {
    return this.read<Product>('product', () => this.redis.get(`p:${id}`));
  }

  setProduct(product: Product): Promise<void> {
    return this.quietly('setProduct', () =>
      this.redis.set(`p:${product.id}`, JSON.stringify(product), 'EX', this.ttl),
    );
  }

  private listKey(gen: string, q: ListQuery): string {
    const h = createHash('sha1')
      .update(JSON.stringify([q.q ?? '', q.category ?? '', q.limit, q.cursor ?? '']))
      .digest('base64url');
    return `l:${gen}:${h}`;
  }

  async list(q: ListQuery, load: () => Promise<Page>): Promise<Page> {
    let gen: string | undefined;
    const cached = await this.read<Page>('product_list', async () => {
      gen = (await this.redis.get(GEN_KEY)) ?? '0';
      return this.redis.get(this.listKey(gen, q));
    });
    if (cached) return cached;
    const page = await load();
    // Stored under the generation seen BEFORE reading the store: a write in between has
    // bumped the generation, so this (possibly stale) page is never served.
    const seen = gen;
    // An empty page (a category or search that matches nothing) is not worth a key.
    if (seen !== undefined && page.items.length > 0)
      await this.quietly('setList', () =>
        this.redis.set(this.listKey(seen, q), JSON.stringify(page), 'EX', this.ttl),
      );
    return page;
  }

  async invalidate(ids: string[]): Promise<void> {
    if (this.redis.status !== 'ready') {
      this.dirty = true;
      return;
    }
    try {
      const multi = this.redis.multi().incr(GEN_KEY);
      if (ids.length) multi.del(...ids.map((id) => `p:${id}`));
      await multi.exec();
    } catch (err) {
      this.dirty = true;
      this.deps.logger.debug({ err }, 'cache invalidation failed; the cache will be flushed');
    }
  }
}

/**
 * The A/B ledger in Redis, beside the cache (keys `exp:<experiment>:<user>` and
 * `conv:<experiment>:<user>`, outside the cache's `p:*` flush): one SET NX per first exposure
 * and per first conversion, so every replica counts a user once. Entries expire after
 * `ttlSeconds` (the experiment's horizon).
 */
export class RedisExperimentLedger implements ExperimentLedger {
  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds = 30 * 24 * 3600,
  ) {}

  /** Redis away: fail at once (the experiment falls back to control) rather than wait for a timeout. */
  private ready() {
    if (this.redis.status !== 'ready') throw new Error(`redis ${this.redis.status}`);
  }

  async recordExposure(experiment: string, userId: string, variant: string): Promise<boolean> {
    this.ready();
    return (
      (await this.redis.set(`exp:${experiment}:${userId}`, variant, 'EX', this.ttlSeconds, 'NX')) === 'OK'
    );
  }

  async exposureOf(experiment: string, userId: string): Promise<string | undefined> {
    this.ready();
    return (await this.redis.get(`exp:${experiment}:${userId}`)) ?? undefined;
  }

  async recordConversion(experiment: string, userId: string): Promise<boolean> {
    this.ready();
    return (await this.redis.set(`conv:${experiment}:${userId}`, '1', 'EX', this.ttlSeconds, 'NX')) === 'OK';
  }
}
