import type { Logger } from '@mdp/platform/logger';

export type Channel = 'log' | 'webhook' | 'slack';
export type NotificationType = 'welcome' | 'order_confirmation' | 'order_cancellation' | 'stock_low';

export interface IncomingEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

/** What one event means for one recipient. */
export interface Planned {
  userId: string;
  type: NotificationType;
  message: string;
}

export interface PendingNotification {
  id: string;
  eventId: string;
  userId: string;
  type: NotificationType;
  channel: Channel;
  message: string;
}

export interface NotificationView {
  id: string;
  type: string;
  channel: string;
  status: string;
  createdAt: string;
}

export interface NotificationStore {
  /**
   * One round trip: whether the event was fully handled before, and otherwise creates the
   * (event, channel) rows that do not exist yet and returns every row not yet sent.
   */
  prepare(
    event: IncomingEvent,
    planned: Planned,
    channels: Channel[],
  ): Promise<{ processed: boolean; pending: PendingNotification[] }>;
  /** One round trip: records what went out and what failed; marks the event processed if nothing failed. */
  complete(
    event: IncomingEvent,
    sent: string[],
    failed: { id: string; error: string }[],
    final: boolean,
  ): Promise<void>;
  markProcessed(event: IncomingEvent): Promise<void>;
  isProcessed(eventId: string): Promise<boolean>;
  listForUser(userId: string, limit: number): Promise<NotificationView[]>;
}

export interface ChannelSender {
  readonly channel: Channel;
  send(n: PendingNotification): Promise<void>;
}

/** The recipient of the operations alerts (stock_low). */
export const OPS_RECIPIENT = 'ops';

const money = (m: unknown) => {
  const v = m as { amount?: number; currency?: string } | undefined;
  return v && typeof v.amount === 'number' ? `${(v.amount / 100).toFixed(2)} ${v.currency ?? ''}`.trim() : '';
};

/** Maps an event to its notification; null for an event that notifies nobody. */
export function plan(event: IncomingEvent): Planned | null {
  const d = event.data;
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  switch (event.type) {
    case 'user.registered': {
      const userId = str(d.userId) ?? str(d.id);
      if (!userId) return null;
      return { userId, type: 'welcome', message: `Welcome to the shop${str(d.name) ? `, ${d.name}` : ''}!` };
    }
    case 'order.created': {
      const userId = str(d.userId);
      if (!userId) return null;
      return {
        userId,
        type: 'order_confirmation',
        message: `Your order ${d.orderId} is confirmed (${money(d.total)}).`,
      };
    }
    case 'order.cancelled': {
      const userId = str(d.userId);
      if (!userId) return null;
      return { userId, type: 'order_cancellation', message: `Your order ${d.orderId} was cancelled.` };
    }
    case 'product.stock_low':
      return {
        userId: OPS_RECIPIENT,
        type: 'stock_low',
        message: `Stock low: ${d.name ?? d.productId} (${d.sku ?? ''}) has ${d.stock} left.`,
      };
    default:
      return null;
  }
}

export class MalformedEventError extends Error {}

/**
 * Handles one event: idempotent by event id, and per channel (a redelivery resends only the
 * channels that did not succeed). Throws when a channel failed, so the consumer retries.
 */
export class Notifier {
  constructor(
    private readonly deps: {
      store: NotificationStore;
      senders: ChannelSender[];
      /** Which optional channels are switched on right now (feature flags). */
      enabledChannels: (userId: string) => Promise<Channel[]>;
      logger: Logger;
      onSent?: (channel: Channel, outcome: 'sent' | 'failed') => void;
    },
  ) {}

  async handle(event: IncomingEvent, opts: { final: boolean }): Promise<'done' | 'duplicate'> {
    const { store, logger } = this.deps;
    const planned = plan(event);
    if (!planned) {
      if (['user.registered', 'order.created', 'order.cancelled'].includes(event.type))
        throw new MalformedEventError(`${event.type} without a recipient`);
      if (await store.isProcessed(event.id)) return 'duplicate';
      logger.debug({ eventId: event.id, type: event.type }, 'event notifies nobody');
      await store.markProcessed(event);
      return 'done';
    }
    const channels: Channel[] = ['log', ...(await this.deps.enabledChannels(planned.userId))];
    const { processed, pending } = await store.prepare(event, planned, channels);
    if (processed) return 'duplicate';
    const results = await Promise.allSettled(
      pending.map(async (n) => {
        const sender = this.deps.senders.find((s) => s.channel === n.channel);
        if (!sender) throw new Error(`no sender for channel ${n.channel}`);
        await sender.send(n);
      }),
    );
    const sent: string[] = [];
    const failed: { id: string; error: string }[] = [];
    results.forEach((r, i) => {
      const n = pending[i] as PendingNotification;
      if (r.status === 'fulfilled') sent.push(n.id);
      else
        failed.push({ id: n.id, error: `${n.channel}: ${(r.reason as Error)?.message ?? String(r.reason)}` });
      this.deps.onSent?.(n.channel, r.status === 'fulfilled' ? 'sent' : 'failed');
    });
    await store.complete(event, sent, failed, opts.final);
    if (failed.length) throw new Error(`channel(s) failed: ${failed.map((f) => f.error).join('; ')}`);
    return 'done';
  }
}
