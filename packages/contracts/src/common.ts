import { type Static, Type } from '@sinclair/typebox';

/** Money: an integer count of minor units plus an ISO 4217 currency, never a float (platform contract). */
export const Money = Type.Object({
  amount: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  currency: Type.String({ pattern: '^[A-Z]{3}$' }),
});
export type Money = Static<typeof Money>;

/** An id in a path or a payload (UUIDs in practice; the seed data and tests use others). */
export const Id = Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' });
