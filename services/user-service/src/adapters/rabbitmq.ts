import { createAmqp } from '@mdp/platform/amqp';

/** RabbitMQ: publishes `user.registered` to `mdp.events`. */
export const connectRabbitMq = (url: string) => createAmqp(url, { name: 'user-service' });
