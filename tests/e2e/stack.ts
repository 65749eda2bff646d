/**
 * The platform as real processes for the end-to-end suite: the one launcher's isolated stack
 * (scripts/stack/processes.ts: fresh databases, vhost, Redis prefix, keys, free ports, tracing
 * preload), with the table of services derived from services/*.
 */
export { type Stack, type StackOptions, startStack } from '../../scripts/stack/processes.js';
