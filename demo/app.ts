/**
 * The demo app: a checkout whose whole state lives on the server, driven over the live channel. Four
 * values are persisted under explicit keys (inputs only); totals and cart lines are recomputed.
 */
import type { StasisApp } from '../server-stub/session/session.js';
import {
  DETAIL_FIELDS,
  PRODUCTS,
  type ClientMessage,
  type Details,
  type ProductId,
  type ServerMessage,
  type Step,
  type View,
} from './shared/messages.js';

const MAX_FIELD_LENGTH = 500;
const EMPTY_DETAILS: Details = { name: '', email: '', address: '', city: '', note: '' };

const app: StasisApp = (session) => {
  const step = session.persist<Step>('checkout.step', 1);
  const cart = session.persist('checkout.cart', () => new Map<ProductId, number>());
  const details = session.persist<Details>('checkout.details', () => ({ ...EMPTY_DETAILS }));
  const startedAt = session.persist('checkout.startedAt', () => new Date());
  const order = session.persist<bigint | null>('checkout.order', null);
  let problem: string | undefined;

  const view = (): View => {
    const lines = PRODUCTS.filter((p) => (cart.get().get(p.id) ?? 0) > 0).map((p) => {
      const qty = cart.get().get(p.id) ?? 0;
      return { id: p.id, name: p.name, qty, lineTotal: qty * p.price };
    });
    const orderNo = order.get();
    return {
      gen: session.gen,
      restored: session.restored,
      step: step.get(),
      cart: lines,
      total: lines.reduce((sum, line) => sum + line.lineTotal, 0),
      details: details.get(),
      startedAt: startedAt.get().toISOString(),
      ...(orderNo !== null ? { orderNumber: `FS-${orderNo.toString().padStart(6, '0')}` } : {}),
      ...(problem ? { problem } : {}),
    };
  };
  const render = () => session.send({ type: 'view', view: view() } satisfies ServerMessage);

  const detailsProblem = (): string | undefined => {
    const d = details.get();
    if (!d.name.trim()) return 'Please enter your name.';
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(d.email.trim())) return 'Please enter a valid email address.';
    if (!d.address.trim() || !d.city.trim()) return 'Please enter your address and city.';
    return undefined;
  };

  const apply = (message: ClientMessage): void => {
    problem = undefined;
    switch (message.type) {
      case 'add': {
        if (!PRODUCTS.some((p) => p.id === message.id)) return;
        const delta = Math.trunc(Number(message.delta)) || 0;
        const qty = Math.max(0, Math.min(99, (cart.get().get(message.id) ?? 0) + delta));
        const next = new Map(cart.get());
        if (qty === 0) next.delete(message.id);
        else next.set(message.id, qty);
        cart.set(next);
        break;
      }
      case 'field': {
        if (!DETAIL_FIELDS.includes(message.name) || typeof message.value !== 'string') return;
        details.set({ ...details.get(), [message.name]: message.value.slice(0, MAX_FIELD_LENGTH) });
        break; // the view echoes it back (the page never overwrites the field being typed in)
      }
      case 'step': {
        const target = message.step;
        if (target !== 1 && target !== 2 && target !== 3) return;
        if (target >= 2 && cart.get().size === 0) problem = 'Add something to your cart first.';
        else if (target === 3) problem = detailsProblem();
        if (!problem) step.set(target);
        break;
      }
      case 'place': {
        problem = step.get() === 3 ? detailsProblem() : 'Review your order first.';
        if (!problem) {
          order.set(BigInt(Date.now() % 1_000_000));
          step.set(4);
        }
        break;
      }
      case 'restart': {
        step.set(1);
        cart.set(new Map());
        details.set({ ...EMPTY_DETAILS });
        startedAt.set(new Date());
        order.set(null);
        break;
      }
      default:
        return;
    }
    render();
  };

  return {
    onConnect: render,
    onMessage: (message) => {
      if (typeof message === 'object' && message !== null && 'type' in message) apply(message as ClientMessage);
    },
  };
};

export default app;
