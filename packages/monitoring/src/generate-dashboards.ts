/** `npm run dashboards:generate`: rewrites monitoring/dashboards/*.json from src/dashboards.ts. */
import path from 'node:path';
import { repoRoot } from '@mdp/platform/tools';
import { writeDashboards } from './dashboards.js';

for (const file of writeDashboards()) process.stdout.write(`wrote ${path.relative(repoRoot(), file)}\n`);
