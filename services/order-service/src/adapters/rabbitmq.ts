import { createAmqp } from '@mdp/platform/amqp';

/** RabbitMQ: the outbox relay publishes `order.*` to `mdp.events`. */
export const connectRabbitMq = (url: string) => createAmqp(url, { name: 'order-service' });
