/**
 * The platform as real processes for the end-to-end suite: the one launcher's isolated stack
 * (packages/stack/src/processes.ts: fresh databases, vhost, Redis prefix, keys, free ports, tracing
 * preload), with the table of services derived from services/*.
 */
export { type Stack, type StackOptions, startStack } from '@mdp/stack/processes';
