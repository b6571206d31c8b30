/** The reconnection schedule of dedicated PostgreSQL connections, on mocked timers. */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { ReconnectBackoff } from './reconnect-backoff.js';

describe('ReconnectBackoff', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  /** The delays after which successive failed attempts ran. */
  function failures(backoff: ReconnectBackoff, n: number): number[] {
    const delays: number[] = [];
    for (let i = 0; i < n; i++) {
      let ran = false;
      backoff.schedule(() => (ran = true));
      let waited = 0;
      while (!ran) {
        mock.timers.tick(50);
        waited += 50;
      }
      delays.push(waited);
    }
    return delays;
  }

  it('waits 0.25 s after the first failure, doubling up to 5 s, and 0.25 s again after a success', () => {
    const backoff = new ReconnectBackoff();
    assert.deepEqual(failures(backoff, 7), [250, 500, 1_000, 2_000, 4_000, 5_000, 5_000]);
    backoff.succeeded();
    assert.deepEqual(failures(backoff, 2), [250, 500]);
  });

  it('schedules one attempt at a time, and none once closed', () => {
    const backoff = new ReconnectBackoff();
    let runs = 0;
    backoff.schedule(() => runs++);
    backoff.schedule(() => runs++);
    mock.timers.tick(10_000);
    assert.equal(runs, 1);

    backoff.schedule(() => runs++);
    backoff.close();
    mock.timers.tick(10_000);
    backoff.schedule(() => runs++);
    mock.timers.tick(10_000);
    assert.equal(runs, 1);
  });
});
