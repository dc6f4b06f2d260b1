import { describe, expect, it } from 'vitest';
import { StasisError } from '../../../../server-stub/errors.js';
import { BREAKER_DEFAULTS, CircuitBreaker, type BreakerState } from '../../../../server-stub/store/circuit-breaker.js';
import { Clock, settleOrHang } from './store-helpers.js';

const ok = <T>(value: T) => async () => value;
const boom = (message = 'boom') => async (): Promise<never> => {
  throw new Error(message);
};
const never = () => new Promise<never>(() => undefined);

/** A breaker on a manual clock that records its state changes. */
function setup(options: { failureThreshold?: number; openMs?: number; timeoutMs?: number } = {}) {
  const clock = new Clock();
  const changes: BreakerState[] = [];
  const breaker = new CircuitBreaker('test', {
    failureThreshold: 3,
    openMs: 1_000,
    timeoutMs: 1_000,
    ...options,
    now: clock.now,
    onChange: (state) => changes.push(state),
  });
  return { clock, changes, breaker };
}

async function failTimes(breaker: CircuitBreaker, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await expect(breaker.run(boom())).rejects.toBeInstanceOf(StasisError);
}

/** The rejection of `promise`, which must reject. */
async function rejection(promise: Promise<unknown>): Promise<StasisError> {
  try {
    await promise;
  } catch (error) {
    return error as StasisError;
  }
  throw new Error('expected a rejection');
}

describe('CircuitBreaker', () => {
  it('has the documented defaults', () => {
    expect(BREAKER_DEFAULTS).toEqual({ failureThreshold: 5, openMs: 10_000, timeoutMs: 500 });
    const breaker = new CircuitBreaker('d');
    expect(breaker.timeoutMs).toBe(500);
    expect(breaker.name).toBe('d');
    expect(breaker.state).toBe('closed');
  });

  it('default threshold: opens on the 5th consecutive failure', async () => {
    const clock = new Clock();
    const breaker = new CircuitBreaker('d', { now: clock.now });
    await failTimes(breaker, 4);
    expect(breaker.state).toBe('closed');
    await failTimes(breaker, 1);
    expect(breaker.state).toBe('open');
  });

  describe('closed', () => {
    it('passes results through and starts closed without an onChange call', async () => {
      const { breaker, changes } = setup();
      expect(await breaker.run(ok(42))).toBe(42);
      expect(await breaker.run(ok(undefined))).toBeUndefined();
      expect(breaker.state).toBe('closed');
      expect(changes).toEqual([]);
    });

    it('wraps a failure as StasisError unavailable naming the store and the cause', async () => {
      const { breaker } = setup();
      const error = await rejection(breaker.run(boom('disk on fire')));
      expect(error).toBeInstanceOf(StasisError);
      expect(error.code).toBe('unavailable');
      expect(error.message).toContain('"test"');
      expect(error.message).toContain('disk on fire');
    });

    it('a synchronous throw inside the call is a failure too', async () => {
      const { breaker } = setup({ failureThreshold: 1 });
      const error = await rejection(
        breaker.run(() => {
          throw new Error('sync');
        }),
      );
      expect(error.code).toBe('unavailable');
      expect(breaker.state).toBe('open');
    });

    it('a non-Error rejection is reported too', async () => {
      const { breaker } = setup();
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the case under test
      const error = await rejection(breaker.run(() => Promise.reject('plain string')));
      expect(error.code).toBe('unavailable');
      expect(error.message).toContain('plain string');
    });

    it('opens after exactly failureThreshold consecutive failures', async () => {
      const { breaker, changes } = setup({ failureThreshold: 3 });
      await failTimes(breaker, 2);
      expect(breaker.state).toBe('closed');
      expect(changes).toEqual([]);
      await failTimes(breaker, 1);
      expect(breaker.state).toBe('open');
      expect(changes).toEqual(['open']);
    });

    it('a success resets the count: failures must be consecutive', async () => {
      const { breaker } = setup({ failureThreshold: 3 });
      await failTimes(breaker, 2);
      await breaker.run(ok(1));
      await failTimes(breaker, 2);
      expect(breaker.state).toBe('closed');
      await failTimes(breaker, 1);
      expect(breaker.state).toBe('open');
    });

    it('threshold 1 opens on the first failure', async () => {
      const { breaker } = setup({ failureThreshold: 1 });
      await failTimes(breaker, 1);
      expect(breaker.state).toBe('open');
    });
  });

  describe('open', () => {
    it('fails fast with unavailable without calling the function', async () => {
      const { breaker } = setup({ failureThreshold: 2 });
      await failTimes(breaker, 2);
      let calls = 0;
      for (let i = 0; i < 5; i++) {
        const error = await rejection(
          breaker.run(async () => {
            calls++;
            return 1;
          }),
        );
        expect(error).toBeInstanceOf(StasisError);
        expect(error.code).toBe('unavailable');
        expect(error.message).toMatch(/circuit open/);
      }
      expect(calls).toBe(0);
      expect(breaker.state).toBe('open');
    });

    it('stays open until openMs has passed', async () => {
      const { breaker, clock } = setup({ failureThreshold: 1, openMs: 1_000 });
      await failTimes(breaker, 1);
      clock.advance(999);
      expect(breaker.state).toBe('open');
      let calls = 0;
      await expect(breaker.run(async () => void calls++)).rejects.toMatchObject({ code: 'unavailable' });
      expect(calls).toBe(0);
      clock.advance(1);
      expect(breaker.state).toBe('half-open'); // a probe may go now
    });

    it('fast failures while open do not extend the open window', async () => {
      const { breaker, clock } = setup({ failureThreshold: 1, openMs: 1_000 });
      await failTimes(breaker, 1);
      for (let i = 0; i < 9; i++) {
        clock.advance(100);
        await expect(breaker.run(ok(1))).rejects.toMatchObject({ code: 'unavailable' });
      }
      clock.advance(100);
      expect(await breaker.run(ok('probe'))).toBe('probe');
      expect(breaker.state).toBe('closed');
    });
  });

  describe('half-open', () => {
    it('after openMs one probe goes through; its success closes the breaker', async () => {
      const { breaker, clock, changes } = setup({ failureThreshold: 2, openMs: 1_000 });
      await failTimes(breaker, 2);
      clock.advance(1_000);
      expect(await breaker.run(ok('back'))).toBe('back');
      expect(breaker.state).toBe('closed');
      expect(changes).toEqual(['open', 'half-open', 'closed']);
      // Closed again: failures start counting from zero.
      await failTimes(breaker, 1);
      expect(breaker.state).toBe('closed');
    });

    it("the probe's failure re-opens the breaker for another openMs", async () => {
      const { breaker, clock, changes } = setup({ failureThreshold: 2, openMs: 1_000 });
      await failTimes(breaker, 2);
      clock.advance(1_500);
      await expect(breaker.run(boom('still down'))).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('still down') });
      expect(breaker.state).toBe('open');
      expect(changes).toEqual(['open', 'half-open', 'open']);
      // The new window counts from the probe's failure, not from the first opening.
      clock.advance(999);
      await expect(breaker.run(ok(1))).rejects.toMatchObject({ message: expect.stringMatching(/circuit open/) });
      clock.advance(1);
      expect(await breaker.run(ok(2))).toBe(2);
      expect(changes).toEqual(['open', 'half-open', 'open', 'half-open', 'closed']);
    });

    it('lets exactly one probe through at a time; others fail fast while it runs', async () => {
      const { breaker, clock } = setup({ failureThreshold: 1, openMs: 1_000 });
      await failTimes(breaker, 1);
      clock.advance(1_000);
      let release!: (value: string) => void;
      let probeCalls = 0;
      const probe = breaker.run(() => {
        probeCalls++;
        return new Promise<string>((resolve) => (release = resolve));
      });
      expect(breaker.state).toBe('half-open');
      let otherCalls = 0;
      const others = await Promise.allSettled(
        Array.from({ length: 5 }, () =>
          breaker.run(async () => {
            otherCalls++;
            return 'x';
          }),
        ),
      );
      expect(others.every((r) => r.status === 'rejected' && (r.reason as StasisError).code === 'unavailable')).toBe(true);
      expect(otherCalls).toBe(0);
      expect(probeCalls).toBe(1);
      // Even much later, while the probe is still out, no second probe.
      clock.advance(10_000);
      expect(breaker.state).toBe('half-open');
      await expect(breaker.run(ok(1))).rejects.toMatchObject({ code: 'unavailable' });
      release('done');
      expect(await probe).toBe('done');
      expect(breaker.state).toBe('closed');
      expect(await breaker.run(ok('normal'))).toBe('normal');
    });

    it('a probe that hangs past the timeout re-opens the breaker', async () => {
      const { breaker, clock, changes } = setup({ failureThreshold: 1, openMs: 1_000, timeoutMs: 30 });
      await failTimes(breaker, 1);
      clock.advance(1_000);
      const outcome = await settleOrHang(breaker.run(never), 5_000);
      expect(outcome).not.toBe('hung');
      expect(outcome).toMatchObject({ ok: false, error: { code: 'unavailable' } });
      expect(breaker.state).toBe('open');
      expect(changes).toEqual(['open', 'half-open', 'open']);
    });
  });

  describe('timeout', () => {
    it('turns a call that never settles into an unavailable failure', async () => {
      const { breaker } = setup({ timeoutMs: 30 });
      const outcome = await settleOrHang(breaker.run(never), 5_000);
      expect(outcome).not.toBe('hung');
      if (outcome === 'hung' || outcome.ok) throw new Error('expected a rejection');
      expect(outcome.error).toBeInstanceOf(StasisError);
      expect((outcome.error as StasisError).code).toBe('unavailable');
      expect((outcome.error as StasisError).message).toMatch(/timed out after 30 ms/);
    });

    it('timeouts count as failures towards the threshold', async () => {
      const { breaker, changes } = setup({ failureThreshold: 2, timeoutMs: 30 });
      await expect(breaker.run(never)).rejects.toMatchObject({ code: 'unavailable' });
      expect(breaker.state).toBe('closed');
      await expect(breaker.run(never)).rejects.toMatchObject({ code: 'unavailable' });
      expect(breaker.state).toBe('open');
      expect(changes).toEqual(['open']);
    });

    it('a late rejection of a timed-out call changes nothing and is not unhandled', async () => {
      const { breaker } = setup({ failureThreshold: 2, timeoutMs: 20 });
      let reject!: (error: Error) => void;
      const slow = new Promise<never>((_, r) => (reject = r));
      await expect(breaker.run(() => slow)).rejects.toMatchObject({ code: 'unavailable' });
      reject(new Error('late'));
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(breaker.state).toBe('closed'); // still one failure, not two
      await breaker.run(ok(1));
    });

    it('a call that answers in time is not affected by the timeout', async () => {
      const { breaker } = setup({ timeoutMs: 1_000 });
      const value = await breaker.run(() => new Promise<string>((resolve) => setTimeout(() => resolve('in time'), 5)));
      expect(value).toBe('in time');
    });
  });

  it('full onChange sequence through two outages', async () => {
    const { breaker, clock, changes } = setup({ failureThreshold: 2, openMs: 500 });
    await breaker.run(ok(1));
    await failTimes(breaker, 2); // open
    clock.advance(500);
    await failTimes(breaker, 1); // half-open, open
    clock.advance(500);
    await breaker.run(ok(1)); // half-open, closed
    await failTimes(breaker, 2); // open
    clock.advance(500);
    await breaker.run(ok(1)); // half-open, closed
    expect(changes).toEqual(['open', 'half-open', 'open', 'half-open', 'closed', 'open', 'half-open', 'closed']);
  });
});
