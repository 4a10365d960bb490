import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { keepSessionAlive } from '../../../src/kafka/keepSessionAlive.ts';

/** A handler that finishes when the test says so, and a payload that counts heartbeats. */
function slowBatch() {
  let finish: () => void = () => {};
  const done = new Promise<void>((r) => {
    finish = r;
  });
  const payload = {
    heartbeats: 0,
    heartbeat: async () => {
      payload.heartbeats++;
    },
  };
  return {
    payload,
    finish,
    handler: async () => {
      await done;
    },
  };
}

test('a handler running longer than the heartbeat interval heartbeats meanwhile, and stops when it returns', async () => {
  mock.timers.enable({ apis: ['setInterval', 'Date'] });
  try {
    const { payload, finish, handler } = slowBatch();
    const running = keepSessionAlive(handler, { heartbeatInterval: 2000, maxProcessingMs: 60_000 })(payload);
    mock.timers.tick(1999);
    assert.equal(payload.heartbeats, 0, 'a short batch sends nothing extra');
    mock.timers.tick(1);
    assert.equal(payload.heartbeats, 1);
    for (let t = 0; t < 8000; t += 1000) mock.timers.tick(1000);
    assert.equal(payload.heartbeats, 5, 'one per interval: a 10 s batch keeps a 6 s session');
    finish();
    await running;
    mock.timers.tick(10_000);
    assert.equal(payload.heartbeats, 5, 'nothing after the handler returned');
  } finally {
    mock.timers.reset();
  }
});

test('a handler that hangs past maxProcessingMs stops heartbeating, so its session lapses and the group moves on', async () => {
  mock.timers.enable({ apis: ['setInterval', 'Date'] });
  try {
    const { payload, finish, handler } = slowBatch();
    const running = keepSessionAlive(handler, { heartbeatInterval: 2000, maxProcessingMs: 10_000 })(payload);
    for (let t = 0; t < 60_000; t += 1000) mock.timers.tick(1000);
    assert.equal(payload.heartbeats, 5, 'heartbeats only within the first 10 s');
    finish();
    await running;
  } finally {
    mock.timers.reset();
  }
});

test("a failed heartbeat (a rebalance under way) does not fail the handler, and the handler's own error comes through", async () => {
  mock.timers.enable({ apis: ['setInterval', 'Date'] });
  try {
    let fail: (e: Error) => void = () => {};
    const failed = new Promise<void>((_, reject) => {
      fail = reject;
    });
    const payload = {
      heartbeat: async () => {
        throw Object.assign(new Error('The group is rebalancing'), { type: 'REBALANCE_IN_PROGRESS' });
      },
    };
    const running = keepSessionAlive(() => failed, { heartbeatInterval: 2000, maxProcessingMs: 60_000 })(payload);
    mock.timers.tick(6000);
    fail(new Error('the handler failed'));
    await assert.rejects(running, /the handler failed/);
  } finally {
    mock.timers.reset();
  }
});
