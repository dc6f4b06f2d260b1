// What the custody answers: unions discriminated on `outcome`, each field only where it exists.
import type { FailureCode, HibernateResult, ResumeResult } from '../../src/index.js';
import { exactly, expectType } from './helpers.js';

declare const resumed: ResumeResult;

if (resumed.outcome === 'ok') resumed.gen.toFixed();
// @ts-expect-error gen only once narrowed to ok
void resumed.gen;
// @ts-expect-error a message only once narrowed to a failure
void resumed.message;
if (resumed.outcome === 'none') {
  // @ts-expect-error nothing was kept: nothing to say
  void resumed.message;
} else if (resumed.outcome !== 'ok') {
  exactly<FailureCode>()(resumed.outcome);
  expectType<string>(resumed.message);
  expectType<number | undefined>(resumed.retryAfterSeconds);
  exactly<true | undefined>()(resumed.quiet);
}

declare const hibernated: HibernateResult;

if (hibernated.outcome === 'ok') {
  hibernated.gen.toFixed();
  hibernated.exp.toFixed();
  hibernated.bytes.toFixed();
  if (hibernated.storage === 'memory') expectType<string>(hibernated.message);
  // @ts-expect-error a blob kept on disk needs no explanation
  else void hibernated.message;
} else {
  expectType<string>(hibernated.message);
}
// @ts-expect-error bytes only when a blob was kept
void hibernated.bytes;
// @ts-expect-error storage only when a blob was kept
void hibernated.storage;
if (hibernated.outcome === 'unavailable') exactly<true | undefined>()(hibernated.pending);
if (hibernated.outcome === 'replayed') {
  // @ts-expect-error only an unreachable server leaves a hibernate pending
  void hibernated.pending;
}
if (hibernated.outcome === 'stale') expectType<number | undefined>(hibernated.gen);

// Custody keepers build them the same way.
expectType<HibernateResult>({ outcome: 'ok', gen: 1, exp: 2, bytes: 3, storage: 'disk' });
expectType<HibernateResult>({ outcome: 'unavailable', message: 'offline', pending: true });
// @ts-expect-error kept in memory: say why
expectType<HibernateResult>({ outcome: 'ok', gen: 1, exp: 2, bytes: 3, storage: 'memory' });
// @ts-expect-error a failure says what happened
expectType<ResumeResult>({ outcome: 'expired' });
expectType<ResumeResult>({ outcome: 'none' });
