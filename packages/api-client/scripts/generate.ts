/**
 * `npm run api:generate [-- --base-url URL]`: fetches the public API document from a running
 * gateway (default: starts the platform as an isolated stack of real processes, as the e2e suite
 * does), writes packages/api-client/openapi.json and regenerates src/schema.ts from it.
 */
import fs from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { DOCUMENT, documentText, normalize, renderTypes, SCHEMA } from './codegen.js';

const { values } = parseArgs({ options: { 'base-url': { type: 'string' } } });

async function fetchDocument(base: string) {
  const res = await fetch(new URL('/docs/json', base), { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${base}/docs/json: HTTP ${res.status}`);
  return (await res.json()) as Record<string, unknown>;
}

let doc: Record<string, unknown>;
if (values['base-url']) doc = await fetchDocument(values['base-url']);
else {
  const { startStack } = await import('@mdp/stack/processes');
  const stack = await startStack({ logLevel: 'warn' });
  try {
    doc = await fetchDocument(stack.gateway);
  } finally {
    await stack.stop();
  }
}
const normalized = normalize(doc);
await fs.writeFile(DOCUMENT, documentText(normalized));
await fs.writeFile(SCHEMA, await renderTypes(normalized));
process.stdout.write(`wrote ${DOCUMENT.pathname} and ${SCHEMA.pathname}\n`);
