/**
 * A Service in front of a service's processes, as kube-proxy gives a Deployment: one stable
 * address the peers call, new connections going to the current backend, connections already
 * open staying with the process they reached until one side closes them. A rolling restart
 * points it at the new process once that one is ready; the old one then drains its connections.
 */
import net from 'node:net';

export interface Front {
  port: number;
  url: string;
  /** Where new connections go from now on. */
  setTarget(port: number): void;
  close(): Promise<void>;
}

export async function startFront(target: number): Promise<Front> {
  let current = target;
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(current, '127.0.0.1');
    open.add(client);
    open.add(upstream);
    // Either side gone (closed, reset, refused): the other is ended too, as a TCP proxy does.
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', () => {
      open.delete(client);
      upstream.destroy();
    });
    upstream.on('error', drop).on('close', () => {
      open.delete(upstream);
      client.destroy();
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    setTarget(p) {
      current = p;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
