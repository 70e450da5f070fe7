// The auditor's console's browser tests (issue 20), owned by W2: called from
// ../browser.int.test.ts to share its platform, web process and browser. A stub that
// registers no tests until they land.
import type { BrowserFixture } from '../test-support/browser-fixture';

export function auditorConsoleTests(_fixture: () => BrowserFixture): void {}
