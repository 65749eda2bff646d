#!/usr/bin/env node
/**
 * npm run cluster:up — starts the local cluster (see cluster.ts), prints the kubeconfig path
 * and stays up until Ctrl-C (or SIGTERM), then stops every process it started.
 */
import { startCluster } from './cluster.js';

const started = performance.now();
const cluster = await startCluster({
  keepDir: process.argv.includes('--keep'),
  log: (line) => process.stdout.write(`cluster: ${line}\n`),
});
process.stdout.write(
  [
    `cluster: up in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    `cluster: API server ${cluster.server}`,
    `cluster: logs in ${cluster.dir}`,
    `export KUBECONFIG=${cluster.kubeconfig}`,
    'cluster: Ctrl-C stops it',
    '',
  ].join('\n'),
);
let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  process.stdout.write('\ncluster: stopping\n');
  await cluster.stop();
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
