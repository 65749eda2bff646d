/**
 * What the fault suite and the soak check after a load: no acknowledged order lost or duplicated
 * on its way to notification-service.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import type { AckedOrder } from '../drills/lib/load.js';
import { waitFor } from '../drills/lib/procs.js';
import type { Stack } from '../e2e/stack.js';

/**
 * Every acknowledged order has exactly one order.created in the outbox, published, consumed by
 * notification-service once, with at most one notification per channel. Returns how long after
 * `since` (the load's end) the last of them was consumed (0 if before).
 */
export async function everyOrderCreatedOnce(
  stack: Stack,
  acked: AckedOrder[],
  since: number,
): Promise<number> {
  const orders = new pg.Client({ connectionString: stack.databases.orders?.url });
  const notes = new pg.Client({ connectionString: stack.databases.notifications?.url });
  await Promise.all([orders.connect(), notes.connect()]);
  try {
    const ids = acked.map((a) => a.id);
    assert.equal(new Set(ids).size, ids.length, 'no order acknowledged twice');
    const events = await orders.query<{ order_id: string; n: string; event_ids: string[] }>(
      `SELECT a.id AS order_id, count(o.id) AS n, coalesce(array_agg(o.id) FILTER (WHERE o.id IS NOT NULL), '{}') AS event_ids
         FROM unnest($1::uuid[]) AS a(id)
         LEFT JOIN outbox o ON o.event_type = 'order.created' AND (o.payload->'data'->>'orderId')::uuid = a.id
        GROUP BY a.id`,
      [ids],
    );
    const wrong = events.rows.filter((r) => Number(r.n) !== 1);
    assert.deepEqual(
      wrong.map((r) => `${r.order_id}: ${r.n}`),
      [],
      'each acknowledged order has exactly one order.created',
    );
    const eventIds = events.rows.flatMap((r) => r.event_ids);
    const lastAt = await waitFor(
      'every order.created of the acknowledged orders consumed',
      async () => {
        const seen = await notes.query<{ n: string; last: Date | null }>(
          'SELECT count(*) AS n, max(processed_at) AS last FROM processed_events WHERE event_id = ANY($1::uuid[])',
          [eventIds],
        );
        return Number(seen.rows[0]?.n) === eventIds.length ? (seen.rows[0]?.last?.getTime() ?? 0) : undefined;
      },
      120_000,
      200,
    );
    const twice = await notes.query<{ n: string }>(
      `SELECT count(*) AS n FROM (SELECT event_id, channel FROM notifications
        WHERE event_id = ANY($1::uuid[]) GROUP BY 1, 2 HAVING count(*) > 1) d`,
      [eventIds],
    );
    assert.equal(Number(twice.rows[0]?.n), 0, 'no notification twice for one event and channel');
    const notified = await notes.query<{ n: string }>(
      'SELECT count(DISTINCT event_id) AS n FROM notifications WHERE event_id = ANY($1::uuid[])',
      [eventIds],
    );
    assert.equal(Number(notified.rows[0]?.n), eventIds.length, 'every order.created has its notification');
    return Math.max(0, lastAt - since);
  } finally {
    await Promise.all([orders.end(), notes.end()]);
  }
}
