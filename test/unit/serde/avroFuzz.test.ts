import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSluiceError } from '../../../src/core/errors.ts';
import { loadSchema, SCHEMA_FILES } from '../../../src/domain/schemas.ts';
import { createRng } from '../../../src/shop/generate/random.ts';
import { createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { forSchema } from '../../../src/serde/logicalTypes.ts';
import { createMemoryRegistry } from '../../../src/testing/memoryRegistry.ts';

const PER_SCHEMA = 100_000;

/** Ways to break a valid value: flips, cuts, splices of huge varints, inserted and dropped bytes. */
function mutate(rng: ReturnType<typeof createRng>, valid: Buffer): Buffer {
  const b = Buffer.from(valid);
  switch (rng.int(0, 5)) {
    case 0: {
      for (let i = rng.int(1, 4); i > 0; i--) b[rng.int(5, b.length - 1)] = rng.int(0, 255);
      return b;
    }
    case 1:
      return b.subarray(0, rng.int(0, b.length - 1));
    case 2: {
      // a huge length / block count varint where a length or count may sit
      const at = rng.int(5, b.length - 1);
      const huge = [
        [0xfe, 0xff, 0xff, 0xff, 0x0f],
        [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
        [0x01, 0xff, 0xff, 0xff, 0xff, 0x7f],
      ][rng.int(0, 2)];
      return Buffer.concat([b.subarray(0, at), Buffer.from(huge), b.subarray(at)]);
    }
    case 3:
      return Buffer.concat([b, Buffer.from(Array.from({ length: rng.int(1, 8) }, () => rng.int(0, 255)))]);
    case 4: {
      const at = rng.int(5, b.length - 1);
      return Buffer.concat([b.subarray(0, at), b.subarray(at + rng.int(1, 3))]);
    }
    default: {
      b[rng.int(0, 4)] = rng.int(0, 255);
      return b;
    } // the framing itself
  }
}

const SAMPLE_BY_NAME: Record<string, unknown> = {};

test(`fuzz: ${PER_SCHEMA.toLocaleString('en')} mutated buffers per schema give values or typed SERDE errors, never a crash or a hang`, async () => {
  const registry = createMemoryRegistry();
  const serde = createAvroSerde(registry, { maxMessageBytes: 1024 * 1024 });
  const files = [...new Set(Object.values(SCHEMA_FILES))];
  let slowest = 0;
  const codes = new Map<string, number>();
  for (const file of files) {
    const topic = file.replace(/\.avsc$/, '');
    const type = forSchema(loadSchema(topic));
    const id = await registry.register(`${topic}-value`, loadSchema(topic));
    await serde.prepareIds([id]);
    const rng = createRng(`fuzz/${topic}`);
    // Valid seeds from avsc's random values (with our logical types), so every field gets exercised.
    const seeds = Array.from({ length: 20 }, () => serde.encodeSync(id, type.random()));
    SAMPLE_BY_NAME[topic] = seeds.length;
    for (let i = 0; i < PER_SCHEMA; i++) {
      const input = mutate(rng, seeds[i % seeds.length]);
      const t0 = performance.now();
      try {
        serde.decodeSync(input);
      } catch (err) {
        assert.ok(
          isSluiceError(err) && err.shortCode.startsWith('SERDE_'),
          `untyped failure for ${topic}: ${(err as Error)?.stack}`,
        );
        codes.set(err.shortCode, (codes.get(err.shortCode) ?? 0) + 1);
      }
      slowest = Math.max(slowest, performance.now() - t0);
    }
  }
  // A hang detector, not a performance threshold: a crafted count that made avsc loop would take minutes.
  assert.ok(slowest < 2000, `slowest decode took ${slowest.toFixed(1)} ms`);
  for (const code of [
    'SERDE_TRUNCATED',
    'SERDE_TRAILING_BYTES',
    'SERDE_HOSTILE_LENGTH',
    'SERDE_BAD_MAGIC',
    'SERDE_UNKNOWN_SCHEMA',
  ]) {
    assert.ok((codes.get(code) ?? 0) > 0, `the mutations reached ${code}`);
  }
});
