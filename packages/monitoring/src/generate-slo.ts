/** `npm run slo:generate`: rewrites monitoring/slo/rules from the specs with the real Sloth. */
import path from 'node:path';
import { repoRoot } from '@mdp/platform/tools';
import { writeAll } from './slo.js';

for (const file of writeAll()) process.stdout.write(`wrote ${path.relative(repoRoot(), file)}\n`);
