import { jwtRouteAuth } from '@mdp/platform/auth';
import { startOutbox } from '@mdp/platform/outbox';
import { runService } from '@mdp/platform/service';
import { ServiceTokenSigner } from '@mdp/platform/service-tokens';
import { connectPostgres, warmOrderStore } from './adapters/postgres.js';
import { ProductServiceClient } from './adapters/product-service.js';
import { connectRabbitMq } from './adapters/rabbitmq.js';
import { buildApp } from './app.js';
import { defaults, definition } from './config.js';

await runService(definition, async (kit) => {
  const { config, lifecycle, logger } = kit;
  const db = connectPostgres(config.DATABASE_URL, config.PG_POOL_MAX, config.PG_POOL_MIN);
  // Before listening: the first orders a new process (a canary) takes find warm sessions.
  const warm = await warmOrderStore(db);
  if (warm.error) logger.warn({ err: warm.error, warmed: warm.warmed }, 'postgres warm-up incomplete');
  else logger.info({ warmed: warm.warmed }, 'postgres sessions warmed');
  const amqp = connectRabbitMq(config.AMQP_URL);
  const signer = new ServiceTokenSigner({
    service: definition.name,
    audience: 'product-service',
    privateKey: config.JWT_SERVICE_PRIVATE_KEY,
  });
  const inventory = new ProductServiceClient({
    baseUrl: config.PRODUCT_SERVICE_URL,
    serviceToken: () => signer.token(),
    logger,
    timeoutMs: config.PRODUCT_SERVICE_TIMEOUT_MS,
    retries: config.PRODUCT_SERVICE_RETRIES,
  });
  startOutbox({ ...kit, pool: db, amqp, intervalMs: config.OUTBOX_INTERVAL_MS });
  const { app, orders } = buildApp({
    ...kit,
    db,
    amqp,
    inventory,
    auth: jwtRouteAuth(config.JWT_PUBLIC_KEY),
    bodyLimit: config.BODY_LIMIT_BYTES,
    limits: {
      maxOpenOrders: config.ORDER_LIMIT_OPEN_ORDERS,
      maxUnitsPerProduct: config.ORDER_LIMIT_UNITS_PER_PRODUCT,
      windowHours: config.ORDER_LIMIT_WINDOW_HOURS,
    },
  });
  // Stock releases product-service missed (it was down) are retried until they land.
  const releases = setInterval(() => {
    orders.retryPendingReleases().catch((err) => logger.warn({ err }, 'pending release retry failed'));
  }, defaults.PENDING_RELEASES_INTERVAL_MS);
  releases.unref();
  lifecycle.on('consumers', 'pending-releases', () => clearInterval(releases));
  lifecycle.on('consumers', 'product-service-breaker', () => inventory.shutdown());
  lifecycle.on('pools', 'rabbitmq', () => amqp.close());
  lifecycle.on('pools', 'postgres', () => db.end());
  return app;
});
