/**
 * `npm run bench:profile-top -- FILE.cpuprofile [N]`: the N (default 25) heaviest frames of a V8
 * CPU profile (node --cpu-prof) by self time, and the same grouped by package, with their share
 * of the profile's non-idle samples, then the frames by total time (self + callees; with
 * FILTER=regexp only frames whose function or file matches; LAST_S=N only the last N seconds
 * of the profile). Enough to see the top frames
 * without a flame-graph viewer.
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [file, n] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: cpuprofile-top FILE.cpuprofile [N]\n');
  process.exit(2);
}
const top = Number(n ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
// LAST_S=N: only the samples of the profile's last N seconds (the load, not the start-up).
if (process.env.LAST_S) {
  const from = profile.endTime - Number(process.env.LAST_S) * 1e6;
  let t = profile.startTime;
  const keep = profile.samples.map((_, i) => {
    t += profile.timeDeltas[i] ?? 0;
    return t >= from;
  });
  profile.samples = profile.samples.filter((_, i) => keep[i]);
  profile.timeDeltas = profile.timeDeltas.filter((_, i) => keep[i]);
}
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map<number, number>();
profile.samples.forEach((id, i) => {
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});

const IDLE = new Set(['(idle)', '(program)', '(garbage collector)']);
/** `node_modules/@scope/name/…` → `@scope/name`; node:internal → `node:`; our code by workspace path. */
function packageOf(url: string): string {
  if (!url) return '(native)';
  if (url.startsWith('node:')) return 'node:';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url.slice(url.lastIndexOf('node_modules/')));
  if (m?.[1]) return m[1];
  const w = /\/(services|packages|scripts)\/([^/]+)\//.exec(url);
  return w ? `${w[1]}/${w[2]}` : url;
}

const frames = new Map<string, number>();
const packages = new Map<string, number>();
let total = 0;
let idle = 0;
for (const [id, us] of self) {
  const node = byId.get(id);
  if (!node) continue;
  total += us;
  const { functionName, url, lineNumber } = node.callFrame;
  if (IDLE.has(functionName) && functionName !== '(garbage collector)') idle += us;
  const short = url
    .replace(/^file:\/\/.*?node_modules\//, '')
    .replace(/^file:\/\/.*?\/(services|packages)\//, '$1/');
  const key = `${functionName || '(anonymous)'} ${short}:${lineNumber + 1}`;
  frames.set(key, (frames.get(key) ?? 0) + us);
  const pkg = IDLE.has(functionName) ? functionName : packageOf(url);
  packages.set(pkg, (packages.get(pkg) ?? 0) + us);
}
const busy = total - idle;
const pct = (us: number) => `${((us / Math.max(busy, 1)) * 100).toFixed(1).padStart(5)}%`;
const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
process.stdout.write(`${file}: ${ms(total)} sampled, ${ms(busy)} not idle (shares below are of that)\n`);
process.stdout.write('\nby self time (frame):\n');
for (const [k, us] of [...frames].sort((a, b) => b[1] - a[1]).slice(0, top))
  if (!IDLE.has(k.split(' ')[0] ?? '') || k.startsWith('(garbage'))
    process.stdout.write(`${ms(us)} ${pct(us)}  ${k}\n`);
process.stdout.write('\nby self time (package):\n');
for (const [k, us] of [...packages].sort((a, b) => b[1] - a[1]).slice(0, top))
  if (k !== '(idle)' && k !== '(program)') process.stdout.write(`${ms(us)} ${pct(us)}  ${k}\n`);

// Total time: each frame counted once per sample, over the sample's whole stack.
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
const keyOf = (node: Node) => {
  const { functionName, url, lineNumber } = node.callFrame;
  const short = url
    .replace(/^file:\/\/.*?node_modules\//, '')
    .replace(/^file:\/\/.*?\/(services|packages|scripts)\//, '$1/');
  return `${functionName || '(anonymous)'} ${short}:${lineNumber + 1}`;
};
const filter = process.env.FILTER ? new RegExp(process.env.FILTER) : undefined;
const inclusive = new Map<string, number>();
const stackKeys = new Map<number, string[]>();
profile.samples.forEach((id, i) => {
  let keys = stackKeys.get(id);
  if (!keys) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur);
      if (node) seen.add(keyOf(node));
    }
    keys = [...seen];
    stackKeys.set(id, keys);
  }
  const fn = byId.get(id)?.callFrame.functionName ?? '';
  if (fn === '(idle)' || fn === '(program)') return;
  for (const k of keys) inclusive.set(k, (inclusive.get(k) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
process.stdout.write(`\nby total time${filter ? ` (frames matching ${filter})` : ''}:\n`);
for (const [k, us] of [...inclusive]
  .filter(([k]) => !k.startsWith('(root)') && (!filter || filter.test(k)))
  .sort((a, b) => b[1] - a[1])
  .slice(0, top))
  process.stdout.write(`${ms(us)} ${pct(us)}  ${k}\n`);
