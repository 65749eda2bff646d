/**
 * `npm run bench:hot-paths`: the CPU cost of single hot-path calls, measured in this process
 * with process.cpuUsage() over many calls, so the figure holds on a loaded machine where the
 * end-to-end benchmarks move with the load. Each line: what was called, calls, CPU µs per call.
 *   token, first sight   verifyAccessToken of a new token each time (a full Ed25519 check)
 *   token, seen before   verifyAccessToken of the same token again (what every request of a session is)
 * Settings: HOT_PATH_CALLS (default 20000).
 */
import { generateSigningKeys, importPublicKey, signAccessToken, verifyAccessToken } from '@mdp/platform/auth';

const calls = Number(process.env.HOT_PATH_CALLS ?? 20_000);
const say = (s: string) => process.stdout.write(`${s}\n`);
const WARM = 1000;

async function cpuPerCall(name: string, n: number, fn: (i: number) => Promise<unknown>) {
  for (let i = 0; i < WARM; i++) await fn(n + i); // warm-up (JIT), on indexes past the measured ones
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn(i);
  const t = process.cpuUsage(t0);
  say(
    `${name.padEnd(34)} ${String(n).padStart(7)} calls ${((t.user + t.system) / n).toFixed(1).padStart(8)} µs CPU/call`,
  );
}

const keys = await generateSigningKeys();
const key = await importPublicKey(keys.publicKey);
const firstSight = Math.min(calls, 5000);
const fresh = await Promise.all(
  Array.from({ length: firstSight + WARM }, (_, i) =>
    signAccessToken({ id: `u-${i}`, role: 'customer' }, keys.privateKey).then((t) => t.token),
  ),
);
await cpuPerCall('token, first sight', firstSight, (i) => verifyAccessToken(fresh[i] as string, key));
const { token } = await signAccessToken({ id: 'u-same', role: 'customer' }, keys.privateKey);
await cpuPerCall('token, seen before', calls, () => verifyAccessToken(token, key));
