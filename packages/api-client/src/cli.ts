/** Shared bits of the smoke and load test command lines. */
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';

export function usage(text: string): never {
  process.stderr.write(`${text}\n`);
  process.exit(2);
}

/** `--base-url URL` (required) plus the command's own options; a usage error exits 2. */
export function baseUrlArgs(name: string, extra: ParseArgsOptionsConfig) {
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({ options: { ...extra, 'base-url': { type: 'string' } }, strict: true }));
  } catch (err) {
    usage(`${name}: ${(err as Error).message}`);
  }
  const baseUrl = values['base-url'];
  if (typeof baseUrl !== 'string' || !/^https?:\/\/[^/]/.test(baseUrl))
    usage(`${name}: --base-url http(s)://HOST[:PORT] is required`);
  return { baseUrl: baseUrl.replace(/\/+$/, ''), values };
}

export const line = (text: string) => process.stdout.write(`${text}\n`);
