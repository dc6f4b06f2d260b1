/**
 * Sets `key` last in `map` (a Map iterates in insertion order) and forgets the oldest entries beyond `max`:
 * the one eviction rule of the server's bounded indexes (rate limiter, in-memory ledger, hibernated index,
 * failing lookups), so memory stays bounded whatever the traffic.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) map.delete(map.keys().next().value!);
}
