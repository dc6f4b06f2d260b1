/**
 * The state model an app author works with: component state (persist), service state (persistFields),
 * and the refusals that keep keys stable (the "factory refusal").
 */
import { describe, expect, it } from 'vitest';
import { jsonCodec } from '../../../server-stub/codec/json-codec.js';
import { StasisConfigError } from '../../../server-stub/errors.js';
import { Session } from '../../../server-stub/session/session.js';
import { StateRegistry } from '../../../server-stub/session/state-registry.js';

function session(restored = new Map<string, { codec: string; value: unknown }>()): Session {
  const registry = new StateRegistry((name) => (name === 'json' ? jsonCodec : undefined), jsonCodec, restored);
  return new Session('AAAAAAAAAAAAAAAAAAAAAA', 1, restored.size > 0, registry);
}

class CartService {
  items = new Map<string, number>();
  coupon: string | null = null;
  /** Derived: recomputed, never persisted. */
  get count(): number {
    let n = 0;
    for (const qty of this.items.values()) n += qty;
    return n;
  }
  connection = { close() {} }; // not serializable: must never be asked for
}

describe('component state: persist()', () => {
  it('refuses a constant key used from code that runs once per item, naming the line and the per-instance form', () => {
    const s = session();
    const makeRow = (_id: string) => s.persist('row.expanded', false); // the bug: the key ignores the id
    makeRow('a');
    let error: unknown;
    try {
      makeRow('b');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StasisConfigError);
    const message = (error as Error).message;
    expect(message).toContain('persist("row.expanded") was called twice');
    expect(message).toMatch(/first at test\/unit\/server\/state-model\.test\.ts:\d+:\d+/);
    expect(message).toContain('runs once per item');
    expect(message).toContain('persist(`row.expanded:${item.id}`');
  });

  it('names both places when two different lines use one key', () => {
    const s = session();
    s.persist('draft', '');
    expect(() => s.persist('draft', '')).toThrow(/first at .*state-model\.test\.ts:\d+:\d+, again at .*state-model\.test\.ts:\d+:\d+/);
  });

  it('accepts the per-instance form', () => {
    const s = session();
    const rows = ['a', 'b', 'c'].map((id) => s.persist(`row.expanded:${id}`, false));
    rows[1]!.set(true);
    expect(rows.map((r) => r.get())).toEqual([false, true, false]);
    expect(s.state.keys).toEqual(['row.expanded:a', 'row.expanded:b', 'row.expanded:c']);
  });
});

describe('service state: persistFields()', () => {
  it('seals only the chosen fields and assigns them back onto a fresh object on resume', () => {
    const first = session();
    const cart = first.persistFields('cart', new CartService(), ['items', 'coupon']);
    cart.items.set('pen', 2);
    cart.coupon = 'WELCOME';
    const sealed = first.state.encodeAll();
    expect(Object.keys(sealed)).toEqual(['cart']);
    expect(Object.keys(sealed.cart!.v as object).sort()).toEqual(['coupon', 'items']);

    const decoded = new Map([['cart', { codec: 'json', value: jsonCodec.decode(JSON.parse(JSON.stringify(sealed.cart!.v)), 'cart') }]]);
    const second = session(decoded);
    const restored = second.persistFields('cart', new CartService(), ['items', 'coupon']);
    expect(restored).toBeInstanceOf(CartService);
    expect(restored.items).toEqual(new Map([['pen', 2]]));
    expect(restored.coupon).toBe('WELCOME');
    expect(restored.count).toBe(2); // recomputed from the restored input
  });

  it('refuses a field whose value cannot be persisted on the first write, naming the key', () => {
    const s = session();
    expect(() => s.persistFields('cart', new CartService(), ['connection'])).toThrow(/cart/);
  });

  it('refuses an empty or repeated field list', () => {
    const s = session();
    expect(() => s.persistFields('a', new CartService(), [])).toThrow(StasisConfigError);
    expect(() => s.persistFields('b', new CartService(), ['coupon', 'coupon'])).toThrow(StasisConfigError);
  });

  it('shares the key space with persist(): one key, one owner', () => {
    const s = session();
    s.persist('cart', 1);
    expect(() => s.persistFields('cart', new CartService(), ['coupon'])).toThrow(/called twice/);
  });
});
