import { CONSUMERS } from '@mdp/contracts/events';
import { createAmqp } from '@mdp/platform/amqp';

/** RabbitMQ: consumes `notification-service.events`. */
export const connectRabbitMq = (url: string) => createAmqp(url, { name: 'notification-service' });

/** The queue and the event types bound to it, as the contract says. */
export const QUEUE = CONSUMERS['notification-service'].queue;
export const BINDINGS = [...CONSUMERS['notification-service'].events];
