import { setTimeout as sleep } from 'node:timers/promises';
import {
  asReservation,
  asReservationError,
  isReservationErrorCode,
  RESERVE_PATH,
  type ReservationErrorCode,
  releasePath,
} from '@mdp/contracts/reservations';
import type { Logger } from '@mdp/platform/logger';
import CircuitBreaker from 'opossum';
import { Agent, request } from 'undici';
import {
  type Inventory,
  InventoryUnavailableError,
  type ReservedLine,
  type ReserveItem,
  StockRefusedError,
} from '../domain/ports.js';

/** product-service answered with a 4xx: a real answer, never retried, never counted against the circuit. */
class RefusedResponse extends Error {
  constructor(
    readonly status: number,
    readonly code: ReservationErrorCode | undefined,
    message: string,
    readonly details?: { productId?: string | undefined },
  ) {
    super(message);
    this.name = 'RefusedResponse';
  }
}

export interface ProductClientOptions {
  baseUrl: string;
  logger: Logger;
  /** Per attempt (PRODUCT_SERVICE_TIMEOUT_MS). */
  timeoutMs: number;
  /** Extra attempts for idempotent calls (reserve and release are, per order id; PRODUCT_SERVICE_RETRIES). */
  retries: number;
  breaker?: { resetTimeoutMs?: number; errorThresholdPercentage?: number; volumeThreshold?: number };
  /**
   * The service credential of each call (a ServiceTokenSigner of @mdp/platform/service-tokens:
   * order-service's short-lived token for audience product-service).
   */
  serviceToken: () => Promise<string>;
}

/**
 * HTTP client for product-service's internal stock API: a timeout on every attempt, retries
 * with backoff (both calls are idempotent per order id), and an opossum circuit breaker so
 * that, while product-service is down, callers fail in microseconds instead of waiting.
 */
export class ProductServiceClient implements Inventory {
  readonly breaker: CircuitBreaker<[string, unknown], unknown>;
  private readonly timeoutMs: number;
  private readonly retries: number;
  /** Keep-alive connection pool to product-service (undici's request: far cheaper than fetch). */
  private readonly agent: Agent;

  constructor(private readonly opts: ProductClientOptions) {
    this.timeoutMs = opts.timeoutMs;
    this.retries = opts.retries;
    this.agent = new Agent({ keepAliveTimeout: 10_000, connections: 128 });
    this.breaker = new CircuitBreaker((path: string, body: unknown) => this.post(path, body), {
      name: 'product-service',
      timeout: false, // each attempt has its own AbortSignal timeout
      resetTimeout: opts.breaker?.resetTimeoutMs ?? 5000,
      errorThresholdPercentage: opts.breaker?.errorThresholdPercentage ?? 50,
      volumeThreshold: opts.breaker?.volumeThreshold ?? 5,
      rollingCountTimeout: 10_000,
      errorFilter: (err) => err instanceof RefusedResponse,
    });
    this.breaker.on('open', () => opts.logger.warn('product-service circuit opened: failing fast'));
    this.breaker.on('halfOpen', () => opts.logger.info('product-service circuit half-open: probing'));
    this.breaker.on('close', () => opts.logger.info('product-service circuit closed'));
  }

  private async post(path: string, body: unknown): Promise<unknown> {
    const res = await request(new URL(path, this.opts.baseUrl), {
      method: 'POST',
      dispatcher: this.agent,
      headers: {
        authorization: `Bearer ${await this.opts.serviceToken()}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.body.text();
    const json: unknown = text ? JSON.parse(text) : {};
    if (res.statusCode >= 200 && res.statusCode < 300) return json;
    const error = asReservationError(json);
    // The credential refused is this service's fault, not the order's: a failure, not a refusal.
    if (res.statusCode === 401 || res.statusCode === 403)
      throw new Error(`product-service refused order-service's service token (${res.statusCode})`);
    if (res.statusCode >= 400 && res.statusCode < 500)
      throw new RefusedResponse(
        res.statusCode,
        isReservationErrorCode(error?.code) ? error.code : undefined,
        error?.message ?? 'refused',
        error?.details,
      );
    throw new Error(`product-service answered ${res.statusCode}: ${error?.message ?? 'error'}`);
  }

  /** Fires through the breaker, retrying failures (not refusals) with backoff. */
  private async call(path: string, body: unknown): Promise<unknown> {
    let attempt = 0;
    for (;;) {
      try {
        return await this.breaker.fire(path, body);
      } catch (err) {
        if (err instanceof RefusedResponse) throw err;
        const open = (err as { code?: string }).code === 'EOPENBREAKER';
        if (open || attempt >= this.retries)
          throw new InventoryUnavailableError(
            open
              ? 'product-service circuit is open'
              : `product-service unavailable: ${(err as Error).message}`,
            open,
          );
        attempt++;
        await sleep(50 * 3 ** (attempt - 1));
      }
    }
  }

  async reserve(orderId: string, items: ReserveItem[], userId?: string): Promise<ReservedLine[]> {
    try {
      const res = asReservation(
        await this.call(RESERVE_PATH, { orderId, items, ...(userId ? { userId } : {}) }),
      );
      if (!res)
        throw new InventoryUnavailableError('product-service answered something that is not a reservation');
      return res.lines.map(({ productId, sku, name, quantity, unitPrice }) => ({
        productId,
        sku,
        name,
        quantity,
        unitPrice,
      }));
    } catch (err) {
      if (!(err instanceof RefusedResponse)) throw err;
      if (err.code === 'INSUFFICIENT_STOCK')
        throw new StockRefusedError('insufficient_stock', err.message, err.details?.productId);
      if (err.code === 'UNKNOWN_PRODUCT')
        throw new StockRefusedError('unknown_product', err.message, err.details?.productId);
      if (err.code === 'RESERVATION_RELEASED') throw new StockRefusedError('already_released', err.message);
      throw new InventoryUnavailableError(
        `product-service refused the reservation: ${err.status} ${err.message}`,
      );
    }
  }

  async release(orderId: string): Promise<void> {
    try {
      await this.call(releasePath(orderId), undefined);
    } catch (err) {
      if (err instanceof RefusedResponse)
        throw new InventoryUnavailableError(
          `product-service refused the release: ${err.status} ${err.message}`,
        );
      throw err;
    }
  }

  shutdown(): void {
    this.breaker.shutdown();
    void this.agent.close();
  }
}
