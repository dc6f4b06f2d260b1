/** True when A and B are the same type (not merely assignable). */
export type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** Compiles only when its type argument is `true`: `assert<Equal<X, Y>>()`. */
export function assert<T extends true>(): T | void {}

/** Compiles only when `value` is exactly of type T (not a narrower, nor a wider one): `exactly<T>()(value)`. */
export function exactly<T>(): <const V>(value: V, ...same: Equal<V, T> extends true ? [] : [never]) => void {
  return () => undefined;
}

/** Compiles only when `value` is assignable to T. */
export function expectType<T>(value: T): void {
  void value;
}
