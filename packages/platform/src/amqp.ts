import amqp, { type AmqpConnectionManager } from 'amqp-connection-manager';

export const DEAD_LETTER_EXCHANGE = 'mdp.events.dlx';

/**
 * A RabbitMQ connection that reconnects by itself (amqp-connection-manager over amqplib).
 * Channels created from it re-run their setup (topology) after every reconnect.
 */
export function createAmqp(url: string, opts: { name: string; timeoutMs?: number }): AmqpConnectionManager {
  return amqp.connect([url], {
    heartbeatIntervalInSeconds: 10,
    reconnectTimeInSeconds: 1,
    connectionOptions: { timeout: opts.timeoutMs ?? 5000, clientProperties: { connection_name: opts.name } },
  });
}

/** Ready while the connection to the broker is up. */
export const amqpCheck = (conn: AmqpConnectionManager) => async () => {
  if (!conn.isConnected()) throw new Error('not connected to RabbitMQ');
};
