import { drillDir, stopAll } from './tests/drills/lib/procs.js';
import { startRabbitCluster } from './tests/drills/lib/rabbit.js';
const d = drillDir('try');
const t0 = Date.now();
try {
  const c = await startRabbitCluster(d);
  console.error('cluster in', Date.now() - t0, await c.runningNodes(c.nodes[0]!));
} catch (e) { console.error(e); }
await stopAll();
console.error(d.dir);
