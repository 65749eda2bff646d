export interface CliArgs {
  root: string;
  targets: string[];
  /** Skip the server-side stage (render, determinism and our own policies only). */
  offline: boolean;
  /** Use this cluster (its CRDs installed, as @mdp/cluster does) instead of starting one. */
  kubeconfig?: string;
}

/** `--root DIR` (default: this repository), `--offline`, `--kubeconfig FILE`, and render targets (default: all). */
export function parseArgs(argv: string[], defaultRoot: string): CliArgs {
  const out: CliArgs = { root: defaultRoot, targets: [], offline: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--root' || a === '--kubeconfig') {
      const next = argv[++i];
      if (!next) throw new Error(`${a} needs a value`);
      if (a === '--root') out.root = next;
      else out.kubeconfig = next;
    } else if (a === '--offline') out.offline = true;
    else out.targets.push(a);
  }
  return out;
}
