import clickstream from './clickstream.ts';
import customers from './customers.ts';
import orders from './orders.ts';
import products from './products.ts';
import warehouse from './warehouse.ts';
import metrics from './metrics.ts';
import lake from './lake.ts';
import type { TopologyDefinition } from '../src/topology/types.ts';

/** Every topology `sluice run` and `sluice describe` know, by name. */
export const TOPOLOGIES: Record<string, TopologyDefinition> = Object.fromEntries(
  [customers, products, orders, clickstream, metrics, lake, warehouse].map((t) => [t.name, t]),
);
