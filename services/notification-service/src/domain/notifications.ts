import type { AnyEvent } from '@mdp/contracts/events';

export type Channel = 'log' | 'webhook' | 'slack';
export type NotificationType = 'welcome' | 'order_confirmation' | 'order_cancellation' | 'stock_low';

/** An event as the consumer hands it over: checked against the contract, so its data is typed. */
export type IncomingEvent = AnyEvent;

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
  listForUser(userId: string, limit: number): Promise<NotificationView[]>;
}

export interface ChannelSender {
  readonly channel: Channel;
  send(n: PendingNotification): Promise<void>;
}

/** The recipient of the operations alerts (stock_low). */
export const OPS_RECIPIENT = 'ops';

const money = (m: { amount: number; currency: string }) => `${(m.amount / 100).toFixed(2)} ${m.currency}`;

/** What an event means for its recipient (every event of the contract notifies someone). */
export function plan(event: IncomingEvent): Planned {
  switch (event.type) {
    case 'user.registered':
      return {
        userId: event.data.userId,
        type: 'welcome',
        message: `Welcome to the shop, ${event.data.name}!`,
      };
    case 'order.created':
      return {
        userId: event.data.userId,
        type: 'order_confirmation',
        message: `Your order ${event.data.orderId} is confirmed (${money(event.data.total)}).`,
      };
    case 'order.cancelled':
      return {
        userId: event.data.userId,
        type: 'order_cancellation',
        message: `Your order ${event.data.orderId} was cancelled.`,
      };
    case 'product.stock_low':
      return {
        userId: OPS_RECIPIENT,
        type: 'stock_low',
        message: `Stock low: ${event.data.name} (${event.data.sku}) has ${event.data.stock} left.`,
      };
  }
}

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
      onSent?: (channel: Channel, outcome: 'sent' | 'failed') => void;
    },
  ) {}

  async handle(event: IncomingEvent, opts: { final: boolean }): Promise<'done' | 'duplicate'> {
    const { store } = this.deps;
    const planned = plan(event);
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
