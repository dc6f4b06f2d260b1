/**
 * The reference implementation of the conformance setup contract (contract.ts), shipped as
 * `dist/server/conformance-app.js`:
 *
 *   STASIS_KEYS=… npx stasis-server --app node_modules/stasis/dist/server/conformance-app.js
 *
 * One persisted JSON value per session; the live channel reads it (on connect) and sets it.
 */
import type { StasisApp } from '../session/session.js';
import { isSetMessage, STATE_MESSAGE, VALUE_KEY, type StateMessage } from './contract.js';

const conformanceApp: StasisApp = (session) => {
  const value = session.persist<unknown>(VALUE_KEY, null);
  const state = (): StateMessage => ({ type: STATE_MESSAGE, sid: session.sid, gen: session.gen, value: value.get() });
  return {
    onConnect: () => session.send(state()),
    onMessage(message) {
      if (!isSetMessage(message)) return;
      value.set(message.value);
      session.send(state());
    },
  };
};

export default conformanceApp;
