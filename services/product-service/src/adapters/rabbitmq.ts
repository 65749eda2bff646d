import { createAmqp } from '@mdp/platform/amqp';

/** RabbitMQ: publishes `product.stock_low` to `mdp.events`. */
export const connectRabbitMq = (url: string) => createAmqp(url, { name: 'product-service' });
