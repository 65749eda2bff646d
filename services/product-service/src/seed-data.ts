import type { Product } from './domain/product.js';

/**
 * The demo catalog. The same products (same ids) are in databases/postgresql/seed.sql and
 * databases/mongodb/init.js; test/seed.test.ts checks that the three agree.
 */
export const DEMO_PRODUCTS: Product[] = [
  ['00000000-0000-4000-8000-000000000101', 'KB-001', 'Mechanical keyboard', 'Tenkeyless mechanical keyboard with brown switches', 'peripherals', 8999, 40],
  ['00000000-0000-4000-8000-000000000102', 'MS-001', 'Wireless mouse', 'Ergonomic wireless mouse with a silent click', 'peripherals', 2999, 120],
  ['00000000-0000-4000-8000-000000000103', 'MN-001', '27 inch monitor', 'QHD IPS monitor, 144 Hz, height adjustable stand', 'displays', 32900, 15],
  ['00000000-0000-4000-8000-000000000104', 'MN-002', '24 inch monitor', 'Full HD monitor for the home office', 'displays', 14900, 25],
  ['00000000-0000-4000-8000-000000000105', 'HS-001', 'Noise cancelling headset', 'Over-ear headset with active noise cancelling and a boom microphone', 'audio', 17900, 30],
  ['00000000-0000-4000-8000-000000000106', 'SP-001', 'Desk speakers', 'A pair of compact powered desk speakers', 'audio', 7900, 18],
  ['00000000-0000-4000-8000-000000000107', 'CB-001', 'USB-C cable', 'Braided USB-C to USB-C cable, 2 metres, 100 W', 'accessories', 1499, 500],
  ['00000000-0000-4000-8000-000000000108', 'DK-001', 'USB-C dock', 'Docking station with two display outputs and ethernet', 'accessories', 19900, 12],
  ['00000000-0000-4000-8000-000000000109', 'WC-001', 'Webcam', '1080p webcam with a privacy shutter', 'peripherals', 5900, 60],
  ['00000000-0000-4000-8000-000000000110', 'LS-001', 'Laptop stand', 'Aluminium laptop stand, foldable', 'accessories', 3900, 75],
  ['00000000-0000-4000-8000-000000000111', 'SSD-001', 'Portable SSD 1 TB', 'USB-C portable solid state drive, 1 TB', 'storage', 10900, 45],
  ['00000000-0000-4000-8000-000000000112', 'MP-001', 'Desk mat', 'Large felt desk mat', 'accessories', 2499, 200],
].map(([id, sku, name, description, category, amount, stock]) => ({
  id: id as string,
  sku: sku as string,
  name: name as string,
  description: description as string,
  category: category as string,
  price: { amount: amount as number, currency: 'EUR' },
  stock: stock as number,
}));
