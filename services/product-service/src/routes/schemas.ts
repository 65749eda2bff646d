import { Type } from '@sinclair/typebox';

export const Id = Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' });
export const MoneySchema = Type.Object(
  {
    amount: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    currency: Type.String({ pattern: '^[A-Z]{3}$' }),
  },
  { additionalProperties: false },
);
export const ProductSchema = Type.Object({
  id: Type.String(),
  sku: Type.String(),
  name: Type.String(),
  description: Type.String(),
  category: Type.String(),
  price: MoneySchema,
  stock: Type.Integer(),
});
const fields = {
  sku: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' }),
  name: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.String({ maxLength: 5000 }),
  category: Type.String({ minLength: 1, maxLength: 100 }),
  price: MoneySchema,
  stock: Type.Integer({ minimum: 0, maximum: 1_000_000_000 }),
};
export const NewProductSchema = Type.Object(fields, { additionalProperties: false });
export const ProductPatchSchema = Type.Partial(Type.Object(fields), {
  additionalProperties: false,
  minProperties: 1,
});
export const ReservedLineSchema = Type.Object({
  productId: Type.String(),
  sku: Type.String(),
  name: Type.String(),
  quantity: Type.Integer(),
  unitPrice: MoneySchema,
  stock: Type.Integer(),
});
export const ReservationSchema = Type.Object({
  orderId: Type.String(),
  status: Type.Union([Type.Literal('reserved'), Type.Literal('released')]),
  lines: Type.Array(ReservedLineSchema),
});
