/**
 * A local Slack-compatible incoming webhook: accepts what Alertmanager's slack_configs POST (JSON
 * with channel, attachments[].title/.text/.color/.actions) and keeps it. The live test asserts on
 * the messages; `npm start` writes them to .local/logs/slack.log instead of Slack.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackMessage {
  channel?: string;
  username?: string;
  attachments?: {
    title?: string;
    text?: string;
    color?: string;
    actions?: { type?: string; text?: string; url?: string }[];
  }[];
}

export interface SlackReceiver {
  url: string;
  messages: SlackMessage[];
  close(): Promise<void>;
}

export function startSlackReceiver(
  opts: { port?: number; onMessage?: (m: SlackMessage) => void } = {},
): Promise<SlackReceiver> {
  const messages: SlackMessage[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      try {
        const m = JSON.parse(body) as SlackMessage;
        messages.push(m);
        opts.onMessage?.(m);
        // Slack answers a plain "ok".
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      } catch {
        res.writeHead(400, { 'content-type': 'text/plain' }).end('invalid_payload');
      }
    });
  });
  server.requestTimeout = 10_000;
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/services/T000/B000/local`,
        messages,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}
