import type { Output, SinkConnector } from '../../src/topology/types.ts';

/**
 * A sink that passes outputs through (acking them at once) while open and holds them — so their
 * input acks, and the offsets behind them, stay — while closed: a stalled sink on demand.
 *
 * @example const gate = gateSink({ open: false }); ...; gate.open(); // releases what it held
 */
export function gateSink(opts: { open: boolean }) {
  const held: Output[] = [];
  let open = opts.open;
  const sink: SinkConnector = {
    name: 'gate',
    async connect() {},
    add(o) {
      if (open) for (const a of o.acks) a.release();
      else held.push(o);
    },
    async flush() {},
    async close() {},
  };
  return {
    sink,
    held,
    close() {
      open = false;
    },
    open() {
      open = true;
      for (const o of held.splice(0)) for (const a of o.acks) a.release();
    },
  };
}
