import { migrateCommand } from '@mdp/platform/service';
import { definition } from './config.js';

// Applies to the PostgreSQL catalog store only; with a mongodb:// URL it says so and exits 0
// (MongoDB's validators and indexes come from databases/mongodb/init.js).
await migrateCommand(definition);
