import { createAmqp } from '@mdp/platform/amqp';
import { EVENT_TYPES } from '@mdp/platform/events';

/** RabbitMQ: consumes `notification-service.events`. */
export const connectRabbitMq = (url: string) => createAmqp(url, { name: 'notification-service' });

export const QUEUE = 'notification-service.events';
export const BINDINGS = [...EVENT_TYPES];
