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
  isProcessed(eventId: string): Promise<boolean>;
  /** Creates the (event, channel) rows that do not exist yet; returns every row not yet sent. */
  prepare(event: IncomingEvent, planned: Planned, channels: Channel[]): Promise<PendingNotification[]>;
  markSent(id: string): Promise<void>;
  markFailed(id: string, error: string, final: boolean): Promise<void>;
  markProcessed(event: IncomingEvent): Promise<void>;
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
    if (await store.isProcessed(event.id)) return 'duplicate';
    const planned = plan(event);
    if (!planned) {
      if (['user.registered', 'order.created', 'order.cancelled'].includes(event.type))
        throw new MalformedEventError(`${event.type} without a recipient`);
      logger.debug({ eventId: event.id, type: event.type }, 'event notifies nobody');
      await store.markProcessed(event);
      return 'done';
    }
    const channels: Channel[] = ['log', ...(await this.deps.enabledChannels(planned.userId))];
    const pending = await store.prepare(event, planned, channels);
    const failures: string[] = [];
    for (const n of pending) {
      const sender = this.deps.senders.find((s) => s.channel === n.channel);
      try {
        if (!sender) throw new Error(`no sender for channel ${n.channel}`);
        await sender.send(n);
        await store.markSent(n.id);
        this.deps.onSent?.(n.channel, 'sent');
      } catch (err) {
        const message = (err as Error).message ?? String(err);
        failures.push(`${n.channel}: ${message}`);
        await store.markFailed(n.id, message, opts.final);
        this.deps.onSent?.(n.channel, 'failed');
      }
    }
    if (failures.length) throw new Error(`channel(s) failed: ${failures.join('; ')}`);
    await store.markProcessed(event);
    return 'done';
  }
}
