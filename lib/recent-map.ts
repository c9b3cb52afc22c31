// Bounded caches kept as Maps in insertion order: setting a key makes it the newest, and past
// `max` entries the oldest is dropped.
export function setRecent<K, V> (map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key)
  map.set(key, value)
  if (map.size > max) map.delete(map.keys().next().value!)
}
