import { createAmqp } from '@mdp/platform/amqp';

/** RabbitMQ: consumes `notification-service.events`. */
export const connectRabbitMq = (url: string) => createAmqp(url, { name: 'notification-service' });

export const QUEUE = 'notification-service.events';
export const BINDINGS = ['user.registered', 'order.created', 'order.cancelled', 'product.stock_low'];
