// Messages of the demo app's live channel, shared by demo/app.ts (server) and demo/client (browser).

export const PRODUCTS = [
  { id: 'notebook', name: 'Dot-grid notebook', blurb: 'A5, 160 pages, lay-flat binding', price: 1800, color: '#e07a5f' },
  { id: 'pen', name: 'Fineliner set', blurb: 'Six pigment pens, 0.3–0.8 mm', price: 1450, color: '#3d405b' },
  { id: 'tape', name: 'Washi tape', blurb: 'Three rolls, muted tones', price: 700, color: '#81b29a' },
  { id: 'stamp', name: 'Date stamp', blurb: 'Self-inking, adjustable', price: 2200, color: '#f2cc8f' },
] as const;
export type ProductId = (typeof PRODUCTS)[number]['id'];

export const DETAIL_FIELDS = ['name', 'email', 'address', 'city', 'note'] as const;
export type DetailField = (typeof DETAIL_FIELDS)[number];
export type Details = Record<DetailField, string>;

export type Step = 1 | 2 | 3 | 4;

export type ClientMessage =
  | { type: 'add'; id: ProductId; delta: number }
  | { type: 'field'; name: DetailField; value: string }
  | { type: 'step'; step: Step }
  | { type: 'place' }
  | { type: 'restart' };

export interface CartLine {
  id: ProductId;
  name: string;
  qty: number;
  lineTotal: number;
}

export interface View {
  gen: number;
  restored: boolean;
  step: Step;
  cart: CartLine[];
  total: number;
  details: Details;
  /** ISO time the checkout started (a persisted Date). */
  startedAt: string;
  orderNumber?: string;
  /** Why the last step change was refused, if it was. */
  problem?: string;
}

export type ServerMessage = { type: 'view'; view: View };
