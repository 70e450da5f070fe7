// A vitest reporter that appends each run's test counts to the file named by
// VAXGUARD_TEST_COUNTS, so `npm test` can close with one total over every Nx target.
import { appendFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

export default class CountReporter implements Reporter {
  onTestRunEnd(testModules: readonly TestModule[]): void {
    const file = process.env['VAXGUARD_TEST_COUNTS'];
    if (!file) return;
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const testModule of testModules) {
      for (const test of testModule.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') counts.passed++;
        else if (state === 'failed') counts.failed++;
        else counts.skipped++;
      }
      if (testModule.state() === 'failed' && testModule.children.size === 0) counts.failed++;
    }
    appendFileSync(file, `${JSON.stringify(counts)}\n`);
  }
}
