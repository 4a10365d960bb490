/**
 * Kafka's murmur2 hash of a key (the Java client's `Utils.murmur2`, which kafkajs' default
 * partitioner ports), in 32-bit integer arithmetic. @platformatic/kafka ships one too, but it
 * computes with BigInts (slow on every keyed record) and its default partitioner reduces the hash
 * with `>>> 0` instead of Java's `& 0x7fffffff`, which sends half of the keys to other partitions.
 *
 * @example
 *   murmur2(Buffer.from('21')); // -973932308, as in Java and kafkajs
 */
export function murmur2(data: Buffer | ArrayLike<number>): number {
  const m = 0x5bd1e995;
  const length = data.length;
  let h = 0x9747b28c ^ length;
  const length4 = length & ~3;
  for (let i = 0; i < length4; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const tail = length % 4;
  if (tail === 3) h ^= data[length4 + 2] << 16;
  if (tail >= 2) h ^= data[length4 + 1] << 8;
  if (tail >= 1) {
    h ^= data[length4];
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** Reused by `murmur2OfKey` for ASCII keys: no Buffer per record. */
let asciiBytes = new Uint8Array(64);

/**
 * murmur2 of a record key as the producer sends it: a string as its UTF-8 bytes. ASCII keys (ids,
 * session ids) are hashed from their character codes without allocating.
 *
 * @example murmur2OfKey('21') === murmur2(Buffer.from('21'))
 */
export function murmur2OfKey(key: string | Buffer): number {
  if (typeof key !== 'string') return murmur2(key);
  const n = key.length;
  if (n > asciiBytes.length) asciiBytes = new Uint8Array(n * 2);
  for (let i = 0; i < n; i++) {
    const c = key.charCodeAt(i);
    if (c > 0x7f) return murmur2(Buffer.from(key, 'utf8'));
    asciiBytes[i] = c;
  }
  return murmur2(asciiBytes.subarray(0, n));
}
