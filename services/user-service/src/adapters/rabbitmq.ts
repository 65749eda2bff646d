import { createAmqp } from '@mdp/platform/amqp';

/** RabbitMQ: the outbox relay (@mdp/platform/outbox) publishes `user.registered` to `mdp.events`. */
export const connectRabbitMq = (url: string) => createAmqp(url, { name: 'user-service' });
