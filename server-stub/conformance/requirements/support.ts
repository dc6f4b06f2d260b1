/** Helpers the requirement groups share: sessions over the live channel, hibernate, prerequisites. */
import { SET_MESSAGE, type StateMessage } from '../contract.js';
import { describe, field, outcomeOf, type Answer } from '../http.js';
import { describeClose, type LiveConnection } from '../live.js';
import type { TestVectors } from '../vectors.js';
import type { Context } from '../types.js';

/** A live session of the conformance app, opened by the tool. */
export interface OpenSession {
  conn: LiveConnection;
  state: StateMessage;
}

/** Skips `ids` unless the live channel and the conformance app work; true when they do. */
export function needsApp(ctx: Context, ids: readonly string[]): boolean {
  if (ctx.facts.live && ctx.facts.app) return true;
  const why = ctx.facts.live ? 'needs SETUP-APP (the conformance app)' : `needs SETUP-LIVE (${ctx.facts.liveProblem ?? 'no live channel'})`;
  for (const id of ids) ctx.skip(id, why);
  return false;
}

/** The test vectors when the server holds the test keys; else skips `ids` and returns undefined. */
export function needsKeys(ctx: Context, ids: readonly string[]): TestVectors | undefined {
  if (ctx.facts.vectors) return ctx.facts.vectors;
  for (const id of ids) ctx.skip(id, ctx.facts.vectorsProblem ?? 'needs --test-keys');
  return undefined;
}

/** Connects `sid` with `cookie` and waits for the app's state message; a string says what went wrong. */
export async function openSession(ctx: Context, sid: string, cookie: string | null): Promise<OpenSession | string> {
  const conn = await ctx.facts.live!.connect(`sid=${sid}`, { cookie });
  if (conn.outcome !== 'open') return `connect: ${describeClose(undefined, conn)}`;
  const state = await conn.state(ctx.options.timeoutMs);
  if (!state) return `connect: no conformance:state message (${describeClose(conn.closeInfo, conn)})`;
  return { conn, state };
}

/** Sets the app value and waits for the state answer. */
export async function setValue(ctx: Context, conn: LiveConnection, value: unknown): Promise<StateMessage | undefined> {
  conn.send({ type: SET_MESSAGE, value });
  return conn.state(ctx.options.timeoutMs);
}

export interface Hibernated {
  answer: Answer;
  blob: string | undefined;
  gen: number | undefined;
}

export async function hibernate(ctx: Context, sid: string, cookie: string | null, extra: Record<string, unknown> = {}): Promise<Hibernated> {
  const answer = await ctx.http.stasis('hibernate', { sid, ...extra }, { cookie });
  const blob = field(answer, 'blob');
  const gen = field(answer, 'gen');
  const ok = outcomeOf(answer) === 'ok';
  return { answer, blob: ok && typeof blob === 'string' ? blob : undefined, gen: ok && typeof gen === 'number' ? gen : undefined };
}

/** A session opened, its value set, and hibernated: the blob of a known state. */
export async function sessionBlob(ctx: Context, sid: string, cookie: string, value: unknown): Promise<{ sid: string; blob: string; gen: number } | string> {
  const session = await openSession(ctx, sid, cookie);
  if (typeof session === 'string') return session;
  const state = await setValue(ctx, session.conn, value);
  if (!state) return 'no state answer to conformance:set';
  const done = await hibernate(ctx, sid, cookie);
  session.conn.close();
  if (!done.blob || done.gen === undefined) return `hibernate: ${describe(done.answer)}`;
  return { sid, blob: done.blob, gen: done.gen };
}

/** `outcome` and status as a check's expectation reads: `409 replayed`. */
export const seen = (answer: Answer): string => describe(answer);

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
