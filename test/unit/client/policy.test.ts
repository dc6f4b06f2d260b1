import { describe, it, expect } from 'vitest';
import { defaultPolicy, type PolicyAction } from '../../../src/policy.js';
import type { LifecycleSignal } from '../../../src/lifecycle.js';

/**
 * The documented table, per signal: [action when visible, action when hidden]. Typed as a Record over
 * LifecycleSignal so that adding a signal without deciding its action fails the type-check.
 */
const EXPECTED: Record<LifecycleSignal, { visible: PolicyAction; hidden: PolicyAction }> = {
  hidden: { visible: 'hibernate', hidden: 'hibernate' },
  pagehide: { visible: 'hibernate', hidden: 'hibernate' },
  freeze: { visible: 'hibernate', hidden: 'hibernate' },
  load: { visible: 'resume', hidden: 'none' },
  pageshow: { visible: 'resume', hidden: 'none' },
  resume: { visible: 'resume', hidden: 'none' },
  online: { visible: 'resume', hidden: 'none' },
  visible: { visible: 'resume', hidden: 'resume' },
  offline: { visible: 'none', hidden: 'none' },
};

const cases = (Object.keys(EXPECTED) as LifecycleSignal[]).flatMap((signal) =>
  [true, false].flatMap((visible) =>
    [false, true].map((persisted) => ({
      signal,
      visible,
      persisted,
      action: EXPECTED[signal][visible ? 'visible' : 'hidden'],
    })),
  ),
);

describe('defaultPolicy', () => {
  it('covers all nine lifecycle signals', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(
      ['freeze', 'hidden', 'load', 'offline', 'online', 'pagehide', 'pageshow', 'resume', 'visible'],
    );
  });

  it.each(cases)('$signal (visible=$visible, persisted=$persisted) -> $action', ({ signal, visible, persisted, action }) => {
    expect(defaultPolicy({ signal, visible, persisted })).toBe(action);
  });

  it('hibernates on every leave signal even when the page still reports itself visible', () => {
    for (const signal of ['hidden', 'pagehide', 'freeze'] as const) {
      expect(defaultPolicy({ signal, visible: true, persisted: false })).toBe('hibernate');
    }
  });

  it('never resumes a page that is not visible, except on the explicit visible signal', () => {
    const resumingWhileHidden = (Object.keys(EXPECTED) as LifecycleSignal[]).filter(
      (signal) => defaultPolicy({ signal, visible: false, persisted: false }) === 'resume',
    );
    expect(resumingWhileHidden).toEqual(['visible']);
  });
});
