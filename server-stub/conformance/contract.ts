/**
 * The setup contract between `stasis-conformance` and the server under test (docs/conformance.md): the app the
 * server runs exposes one persisted JSON value over the live channel, so the tool can read and change session
 * state without knowing anything else about the app.
 *
 *  - on every connect the server sends `{ "type": "conformance:state", "sid", "gen", "value" }` (`value`: the
 *    session's persisted value, `null` in a new session);
 *  - on `{ "type": "conformance:set", "value": <any JSON> }` it stores the value in the session's persisted
 *    state and answers with the same state message.
 */
export const STATE_MESSAGE = 'conformance:state';
export const SET_MESSAGE = 'conformance:set';
/** The key the reference app persists the value under (any key will do for another server). */
export const VALUE_KEY = 'conformance.value';

export interface StateMessage {
  type: typeof STATE_MESSAGE;
  sid?: string;
  gen: number;
  value: unknown;
}

export interface SetMessage {
  type: typeof SET_MESSAGE;
  value: unknown;
}

export function isStateMessage(message: unknown): message is StateMessage {
  const m = message as Partial<StateMessage> | null;
  return typeof m === 'object' && m !== null && m.type === STATE_MESSAGE && typeof m.gen === 'number' && 'value' in m;
}

export function isSetMessage(message: unknown): message is SetMessage {
  const m = message as Partial<SetMessage> | null;
  return typeof m === 'object' && m !== null && m.type === SET_MESSAGE && 'value' in m;
}
