import { createAmqp } from '@mdp/platform/amqp';

/** RabbitMQ: consumes `notification-service.events`. */
export const connectRabbitMq = (url: string) => createAmqp(url, { name: 'notification-service' });
