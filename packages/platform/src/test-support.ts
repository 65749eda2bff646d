import { Writable } from 'node:stream';
import { Health } from './health.js';
import { createHttpApp, type HttpApp, type HttpAppOptions } from './http.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';

/** A logger whose JSON lines are kept in memory for assertions. */
export function memoryLogger(
  service = 'test',
  level = 'debug',
): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const logger = createLogger({ service, level, destination });
  const lines = () =>
    chunks
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines };
}

/** An app from the factory with fresh metrics and health, for unit tests. */
export function testApp(
  opts: Partial<Pick<HttpAppOptions, 'bodyLimit' | 'errors' | 'trustOneProxy' | 'routes' | 'openapi'>> = {},
) {
  const { logger, lines } = memoryLogger();
  const metrics = new Metrics({ version: '1.2.3', commit: 'abc1234' }, { defaultMetrics: false });
  const health = new Health(1000);
  const app: HttpApp = createHttpApp({
    logger,
    metrics,
    health,
    info: { service: 'test-service', version: '1.2.3', commit: 'abc1234' },
    ...opts,
  });
  return { app, metrics, health, logger, lines };
}
