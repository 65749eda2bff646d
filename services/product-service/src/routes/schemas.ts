import { Money } from '@mdp/contracts/common';
import { Type } from '@sinclair/typebox';

export { Id } from '@mdp/contracts/common';
/** Money in a request body: no other fields. */
export const MoneySchema = Type.Object(Money.properties, { additionalProperties: false });
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
