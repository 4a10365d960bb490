import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { isSluiceError } from '../../../src/core/errors.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';
import { createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { frame } from '../../../src/serde/wireFormat.ts';
import { realStack } from '../../support/stack.ts';

/** A TCP hop in front of the real registry, so the test can cut the network to it. */
async function cuttableProxy(targetPort: number) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

test('during a registry outage known schema ids keep decoding from the cache; unknown ones are reported as REGISTRY_UNAVAILABLE (retriable), not as bad records', async () => {
  const cfg = await realStack();
  const proxy = await cuttableProxy(cfg.registryPort);
  const registry = createRegistryClient({ ...cfg, registryUrl: `http://127.0.0.1:${proxy.port}/apis/ccompat/v7` });
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  const id = await registry.register('oltp.products-value', loadSchema('oltp.products'));
  const row = {
    product_id: 1,
    sku: 'S1',
    name: 'n',
    category: 'c',
    price: '1.00',
    active: true,
    created_at: 1,
    updated_at: 2,
    op: 'c',
    extracted_at: 3,
  };
  const bytes = await serde.encode(id, row);
  await proxy.cut();

  const again = await serde.decode(bytes);
  assert.equal((again.value as { sku: string }).sku, 'S1');
  await assert.rejects(
    serde.decode(frame(id + 100_000, bytes.subarray(5))),
    (e: unknown) => isSluiceError(e, 'REGISTRY_UNAVAILABLE') && e.retriable,
  );
});
