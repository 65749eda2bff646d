import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { freePort } from '@mdp/platform/testing';
import { spawnService, stopProcesses, waitReady } from '@mdp/stack/launcher';
import { describeService } from '@mdp/stack/services';

export interface RunningService {
  url: string;
  port: number;
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts services/<name> as a real process (the one launcher's way) and waits until /readyz answers 200. */
export async function startService(
  name: string,
  env: Record<string, string>,
  opts: { timeoutMs?: number; nodeArgs?: string[] } = {},
): Promise<RunningService> {
  const port = await freePort();
  let out = '';
  const proc = spawnService(await describeService(name), {
    telemetry: false,
    ...(opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {}),
    env: {
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      SHUTDOWN_DRAIN_MS: '0',
      ...env,
    },
  });
  const keep = (d: Buffer) => {
    out = (out + d).slice(-20_000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const stop = () => stopProcesses([proc], 8000);
  try {
    await waitReady(
      { [name]: url },
      { timeoutMs: opts.timeoutMs ?? 30_000, exited: () => proc.exitCode !== null },
    );
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}:\n${out}`);
  }
  return { url, port, proc, output: () => out, stop };
}

/**
 * A TCP relay in front of a server (RabbitMQ here) that can be cut and restored: `stop()`
 * closes the listener and every open connection, `start()` listens again on the same port.
 */
export class TcpRelay {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<number> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
    return this.port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
