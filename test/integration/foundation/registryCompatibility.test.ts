import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSluiceError } from '../../../src/core/errors.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';
import { realStack, uniqueName } from '../../support/stack.ts';

const V1 = {
  type: 'record',
  name: 'Customer',
  namespace: 'sluice.test',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'email', type: 'string' },
  ],
};
const V2_COMPATIBLE = { ...V1, fields: [...V1.fields, { name: 'country', type: ['null', 'string'], default: null }] };
const V3_BREAKING = {
  ...V1,
  fields: [
    { name: 'id', type: 'string' },
    { name: 'email', type: 'string' },
  ],
};

test('registration sets BACKWARD on the subject; a compatible change registers, an incompatible one is rejected', async () => {
  const cfg = await realStack();
  const registry = createRegistryClient(cfg);
  const subject = `${uniqueName('it.compat')}-value`;

  const id1 = await registry.register(subject, V1 as never);
  assert.equal(await registry.compatibility(subject), 'BACKWARD');
  const id2 = await registry.register(subject, V2_COMPATIBLE as never);
  assert.notEqual(id1, id2);
  assert.equal(await registry.latestId(subject), id2);

  await assert.rejects(registry.register(subject, V3_BREAKING as never), (err: unknown) =>
    isSluiceError(err, 'REGISTRY_INCOMPATIBLE'),
  );
  assert.equal(await registry.latestId(subject), id2, 'the rejected schema did not become latest');

  // Ids resolve to the registered writer schemas.
  const t1 = await createRegistryClient(cfg).typeForId(id1);
  assert.deepEqual(
    (t1 as unknown as { fields: { name: string }[] }).fields.map((f) => f.name),
    ['id', 'email'],
  );
  await registry.deleteSubject(subject);
});

test('an unknown schema id is a typed SERDE_UNKNOWN_SCHEMA error, not a crash', async () => {
  const cfg = await realStack();
  await assert.rejects(createRegistryClient(cfg).typeForId(987_654_321), (err: unknown) =>
    isSluiceError(err, 'SERDE_UNKNOWN_SCHEMA'),
  );
});

test('a registry that is down is reported as REGISTRY_UNAVAILABLE after retries', async () => {
  const cfg = await realStack();
  const down = createRegistryClient({ ...cfg, registryUrl: 'http://127.0.0.1:1/apis/ccompat/v7' });
  await assert.rejects(down.typeForId(1), (err: unknown) => isSluiceError(err, 'REGISTRY_UNAVAILABLE'));
});

test("runners registering the same new subject at the same moment all get its id (the registry's conflict on a concurrent first registration is retried)", async () => {
  const cfg = await realStack();
  const subject = `${uniqueName('it-race')}-value`;
  const schema = loadSchema('web.clickstream');
  const ids = await Promise.all(Array.from({ length: 4 }, () => createRegistryClient(cfg).register(subject, schema)));
  assert.equal(new Set(ids).size, 1, `one id for all: ${ids.join(', ')}`);
});
