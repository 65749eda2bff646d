/**
 * The public error codes: every `error.code` a client can get in
 * `{"error": {"code", "message", "requestId"}}`, with the HTTP status that goes with it. A service
 * maps its domain errors to these codes (one error map per service, handed to the HTTP factory);
 * the status comes from here, so one code always means one status.
 */
export const PUBLIC_ERRORS = {
  // Generic answers of the HTTP factory (any service).
  BAD_REQUEST: 400,
  INVALID_CURSOR: 400,
  INVALID_JSON: 400,
  VALIDATION_FAILED: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE: 422,
  TOO_MANY_REQUESTS: 429,
  INTERNAL: 500,
  BAD_GATEWAY: 502,
  UNAVAILABLE: 503,
  DEPENDENCY_UNAVAILABLE: 503,
  NOT_READY: 503,
  GATEWAY_TIMEOUT: 504,
  // user-service
  EMAIL_TAKEN: 409,
  // product-service
  DUPLICATE_SKU: 409,
  // order-service
  INSUFFICIENT_STOCK: 409,
  INVALID_TRANSITION: 409,
  ORDER_LIMIT_REACHED: 409,
  UNKNOWN_PRODUCT: 422,
  IDEMPOTENCY_KEY_REUSED: 422,
  MIXED_CURRENCY: 422,
  FAULT_INJECTED: 500,
  PRODUCT_SERVICE_UNAVAILABLE: 503,
} as const;
export type PublicErrorCode = keyof typeof PUBLIC_ERRORS;

/** What an error map answers for a domain error: the code (its status is the contract's) and what to say. */
export interface PublicError {
  status: number;
  code: PublicErrorCode;
  message: string;
  details?: unknown;
}

export const publicError = (code: PublicErrorCode, message: string, details?: unknown): PublicError => ({
  status: PUBLIC_ERRORS[code],
  code,
  message,
  ...(details === undefined ? {} : { details }),
});
