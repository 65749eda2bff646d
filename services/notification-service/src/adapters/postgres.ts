import { createPgPool } from '@mdp/platform/postgres';
import type pg from 'pg';
import type {
  Channel,
  IncomingEvent,
  NotificationStore,
  NotificationView,
  PendingNotification,
  Planned,
} from '../domain/notifications.js';

/** PostgreSQL database `notifications` (history and processed-event ids). */
export const connectPostgres = (url: string) =>
  createPgPool(url, { applicationName: 'notification-service' });

export class PostgresNotificationStore implements NotificationStore {
  constructor(private readonly pool: pg.Pool) {}

  async prepare(
    event: IncomingEvent,
    planned: Planned,
    channels: Channel[],
  ): Promise<{ processed: boolean; pending: PendingNotification[] }> {
    // The first row is a marker carrying `processed`; the others are the unsent notifications
    // (just created, or left from an earlier attempt).
    const { rows } = await this.pool.query<{
      processed: boolean;
      id: string | null;
      channel: Channel | null;
    }>(
      `WITH done AS (SELECT 1 FROM processed_events WHERE event_id = $1),
            ins AS (
              INSERT INTO notifications (id, event_id, event_type, user_id, type, channel, status, message)
              SELECT gen_random_uuid(), $1, $2, $3, $4, ch, 'pending', $5 FROM unnest($6::text[]) AS ch
               WHERE NOT EXISTS (SELECT 1 FROM done)
              ON CONFLICT (event_id, channel) DO NOTHING
              RETURNING id, channel)
       SELECT EXISTS (SELECT 1 FROM done) AS processed, NULL::uuid AS id, NULL::text AS channel
       UNION ALL SELECT false, id, channel FROM ins
       UNION ALL SELECT false, id, channel FROM notifications
        WHERE event_id = $1 AND status <> 'sent' AND NOT EXISTS (SELECT 1 FROM done)`,
      [event.id, event.type, planned.userId, planned.type, planned.message, channels],
    );
    const processed = rows[0]?.processed === true;
    const pending = rows
      .filter((r) => r.id && r.channel)
      .map((r) => ({
        id: r.id as string,
        eventId: event.id,
        userId: planned.userId,
        type: planned.type,
        channel: r.channel as Channel,
        message: planned.message,
      }))
      .sort((a, b) => a.channel.localeCompare(b.channel));
    return { processed, pending };
  }

  async complete(
    event: IncomingEvent,
    sent: string[],
    failed: { id: string; error: string }[],
    final: boolean,
  ): Promise<void> {
    await this.pool.query(
      `WITH s AS (
              UPDATE notifications SET status = 'sent', sent_at = now(), attempts = attempts + 1, last_error = NULL
               WHERE id = ANY($2::uuid[])),
            f AS (
              UPDATE notifications n SET status = $5, attempts = n.attempts + 1, last_error = x.err
                FROM unnest($3::uuid[], $4::text[]) AS x(id, err) WHERE n.id = x.id)
       INSERT INTO processed_events (event_id, event_type)
       SELECT $1, $6 WHERE cardinality($3::uuid[]) = 0
       ON CONFLICT DO NOTHING`,
      [
        event.id,
        sent,
        failed.map((f) => f.id),
        failed.map((f) => f.error.slice(0, 500)),
        final ? 'failed' : 'pending',
        event.type,
      ],
    );
  }

  async listForUser(userId: string, limit: number): Promise<NotificationView[]> {
    const { rows } = await this.pool.query<NotificationView & { createdAt: Date }>(
      `SELECT id, type, channel, status, created_at AS "createdAt" FROM notifications
        WHERE user_id = $1 ORDER BY created_at DESC, id LIMIT $2`,
      [userId, limit],
    );
    return rows.map((r) => ({ ...r, createdAt: new Date(r.createdAt).toISOString() }));
  }
}
