import { migrateCommand } from '@mdp/platform/service';
import { definition } from './config.js';

await migrateCommand(definition);
