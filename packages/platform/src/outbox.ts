import type { AmqpConnectionManager } from 'amqp-connection-manager';
import type pg from 'pg';
import { currentTraceHeaders, type EventEnvelope, EventPublisher } from './events.js';
import type { Closers } from './lifecycle.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

const CHANNEL = 'mdp_outbox';

/** The outbox table: put this in a migration of every service that publishes through it. */
export const OUTBOX_SQL = `
CREATE TABLE IF NOT EXISTS outbox (
  id uuid PRIMARY KEY,
  event_type text NOT NULL,
  payload jsonb NOT NULL,
  trace_headers jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz,
  attempts integer NOT NULL DEFAULT 0,
  last_error text
);
CREATE INDEX IF NOT EXISTS outbox_pending_idx ON outbox (created_at) WHERE published_at IS NULL;
`;

type Queryable = Pick<pg.ClientBase, 'query'>;

/** The outbox row of `event` as an INSERT … RETURNING event_type, its parameters numbered from `first`. */
function outboxInsert(event: EventEnvelope, first: number): { sql: string; params: unknown[] } {
  return {
    sql: `INSERT INTO outbox (id, event_type, payload, trace_headers) VALUES ($${first}, $${first + 1}, $${first + 2}, $${first + 3}) RETURNING event_type`,
    params: [event.id, event.type, JSON.stringify(event), JSON.stringify(currentTraceHeaders())],
  };
}

/** Wakes the relay at once instead of at its next poll (delivered on commit only). */
const notify = (param: number) => `SELECT pg_notify($${param}, e.event_type) FROM e`;

/**
 * Stores the event in the outbox, inside the caller's transaction: the state change and its
 * event commit together or not at all. The active trace context is kept with the event.
 * One statement (the insert and the relay's wake-up), one round trip.
 */
export async function enqueueEvent(client: Queryable, event: EventEnvelope): Promise<void> {
  const row = outboxInsert(event, 1);
  await client.query(`WITH e AS (${row.sql}) ${notify(row.params.length + 1)}`, [...row.params, CHANNEL]);
}

/**
 * A state change and its event as ONE statement: `state` (an INSERT/UPDATE/DELETE with its own
 * parameters, $1…) and the outbox row run as data-modifying CTEs of a single query, which
 * PostgreSQL executes atomically, so no BEGIN/COMMIT is needed: one round trip instead of five
 * (BEGIN, the change, the outbox row, the wake-up, COMMIT). For a change that needs no checks
 * between its statements; anything conditional keeps `withTransaction` + `enqueueEvent`.
 */
export function withOutboxEvent(
  state: { sql: string; params: unknown[] },
  event: EventEnvelope,
): { text: string; values: unknown[] } {
  const row = outboxInsert(event, state.params.length + 1);
  const values = [...state.params, ...row.params, CHANNEL];
  return { text: `WITH s AS (${state.sql}), e AS (${row.sql}) ${notify(values.length)}`, values };
}

interface OutboxRow {
  id: string;
  payload: EventEnvelope;
  trace_headers: Record<string, string>;
}

export interface OutboxRelayOptions {
  pool: pg.Pool;
  publisher: EventPublisher;
  logger: Logger;
  metrics: Metrics;
  /** Poll interval when no notification arrives (and the retry delay while the broker is away). */
  intervalMs?: number;
  batchSize?: number;
  /** Published rows older than this are deleted. */
  retentionMs?: number;
  /** After a batch went out, wait this long so the next wake-ups are served as one batch. */
  coalesceMs?: number;
}

/**
 * Publishes outbox rows with publisher confirms and marks them published. Rows are claimed
 * with FOR UPDATE SKIP LOCKED, so several replicas can relay at once without sending a row
 * twice concurrently. A publish that fails leaves its row pending: delivery is at-least-once
 * and consumers deduplicate by event id.
 */
export class OutboxRelay {
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private woken = false;
  private listener: pg.PoolClient | undefined;
  private lastCleanup = 0;
  private readonly intervalMs: number;
  private readonly batchSize: number;
  private readonly retentionMs: number;
  private readonly coalesceMs: number;

  constructor(private readonly opts: OutboxRelayOptions) {
    ({
      intervalMs: this.intervalMs = 1000,
      batchSize: this.batchSize = 100,
      retentionMs: this.retentionMs = 24 * 3600 * 1000,
      coalesceMs: this.coalesceMs = 10,
    } = opts);
  }

  /** Publishes one batch; returns how many rows were published. */
  async drainOnce(): Promise<number> {
    const client = await this.opts.pool.connect();
    let published = 0;
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<OutboxRow>(
        `SELECT id, payload, trace_headers FROM outbox
          WHERE published_at IS NULL ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [this.batchSize],
      );
      // Published in order on one channel; confirms are awaited together.
      const results = await Promise.allSettled(
        rows.map((r) => this.opts.publisher.publish(r.payload, r.trace_headers)),
      );
      const ok: string[] = [];
      const failed: { id: string; error: string }[] = [];
      results.forEach((res, i) => {
        const id = (rows[i] as OutboxRow).id;
        if (res.status === 'fulfilled') ok.push(id);
        else failed.push({ id, error: String((res.reason as Error)?.message ?? res.reason).slice(0, 500) });
      });
      if (ok.length)
        await client.query('UPDATE outbox SET published_at = now() WHERE id = ANY($1::uuid[])', [ok]);
      for (const f of failed) {
        await client.query('UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1', [
          f.id,
          f.error,
        ]);
      }
      await client.query('COMMIT');
      published = ok.length;
      if (failed.length)
        throw new Error(`${failed.length} outbox event(s) not published: ${failed[0]?.error}`);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
    return published;
  }

  async pending(): Promise<number> {
    const { rows } = await this.opts.pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM outbox WHERE published_at IS NULL',
    );
    return Number(rows[0]?.n ?? 0);
  }

  private async cleanup(): Promise<void> {
    if (Date.now() - this.lastCleanup < 60_000) return;
    this.lastCleanup = Date.now();
    await this.opts.pool.query(
      `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE published_at < now() - make_interval(secs => $1) LIMIT 1000)`,
      [this.retentionMs / 1000],
    );
  }

  private async listen(): Promise<void> {
    if (this.listener) return;
    try {
      const client = await this.opts.pool.connect();
      client.on('notification', () => this.notified());
      client.on('error', () => {
        this.listener = undefined;
        client.release(true);
      });
      await client.query(`LISTEN ${CHANNEL}`);
      this.listener = client;
    } catch (err) {
      this.opts.logger.debug({ err }, 'outbox LISTEN unavailable; polling');
    }
  }

  /** Sleeps until `ms` passed or a NOTIFY arrived; a NOTIFY that came while awake is not lost. */
  private sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private notified(): void {
    if (this.wake) this.wake();
    else this.woken = true;
  }

  private async run(): Promise<void> {
    const gauge = this.opts.metrics.outboxPending();
    let failures = 0;
    let gaugeAt = 0;
    const updateGauge = async (force: boolean) => {
      // A count(*) per wake-up would cost a query per commit under load: at most once a second.
      if (!force && Date.now() - gaugeAt < 1000) return;
      gaugeAt = Date.now();
      gauge.set(await this.pending());
    };
    while (this.running) {
      let published = 0;
      try {
        await this.listen();
        this.woken = false; // this cycle serves every notification received so far
        let n: number;
        do {
          n = await this.drainOnce();
          published += n;
        } while (this.running && n === this.batchSize);
        await updateGauge(published === 0);
        await this.cleanup();
        failures = 0;
      } catch (err) {
        failures++;
        if (failures === 1 || failures % 30 === 0)
          this.opts.logger.warn({ err, failures }, 'outbox relay retrying');
        await updateGauge(true).catch(() => {});
      }
      if (!this.running) break;
      if (failures) {
        await this.sleep(Math.min(this.intervalMs * 2 ** Math.min(failures, 4), 10_000));
      } else {
        // Coalesce wake-ups: commits arriving within this window go out in one batch.
        if (published > 0 && this.coalesceMs > 0) await new Promise((r) => setTimeout(r, this.coalesceMs));
        await this.sleep(published > 0 ? 0 : this.intervalMs);
      }
    }
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops after the batch in flight; releases the LISTEN connection. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    if (this.listener) {
      await this.listener.query(`UNLISTEN ${CHANNEL}`).catch(() => {});
      this.listener.release();
      this.listener = undefined;
    }
  }
}

export interface OutboxOptions {
  pool: pg.Pool;
  amqp: AmqpConnectionManager;
  logger: Logger;
  metrics: Metrics;
  /** Where the outbox registers its own closer (phase `consumers`: the relay stops, then its publisher closes). */
  lifecycle: Closers;
  /** The relay's poll interval (it is also woken by LISTEN/NOTIFY on every commit). */
  intervalMs?: number;
  /** How long one publish waits for the broker's confirm. */
  publishTimeoutMs?: number;
}

export interface Outbox {
  relay: OutboxRelay;
  publisher: EventPublisher;
  /** What the registered closer runs; tests without a lifecycle call it themselves. */
  stop(): Promise<void>;
}

/**
 * Publishing through the transactional outbox, the one way a service does it: the service writes
 * events with `enqueueEvent` in its transactions; this starts the relay that publishes them (with
 * publisher confirms, in each event's stored trace context) and registers its closer.
 */
export function startOutbox(opts: OutboxOptions): Outbox {
  const publisher = new EventPublisher(opts.amqp, {
    logger: opts.logger,
    metrics: opts.metrics,
    ...(opts.publishTimeoutMs ? { timeoutMs: opts.publishTimeoutMs } : {}),
  });
  const relay = new OutboxRelay({
    pool: opts.pool,
    publisher,
    logger: opts.logger,
    metrics: opts.metrics,
    ...(opts.intervalMs ? { intervalMs: opts.intervalMs } : {}),
  });
  relay.start();
  const stop = async () => {
    await relay.stop();
    await publisher.close();
  };
  opts.lifecycle.on('consumers', 'outbox', stop);
  return { relay, publisher, stop };
}
