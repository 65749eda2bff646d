/** `--root DIR` (default: this repository) and render targets (default: all of TARGETS). */
export function parseArgs(argv: string[], defaultRoot: string): { root: string; targets: string[] } {
  let root = defaultRoot;
  const targets: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--root') {
      const next = argv[++i];
      if (!next) throw new Error('--root needs a directory');
      root = next;
    } else targets.push(a);
  }
  return { root, targets };
}
