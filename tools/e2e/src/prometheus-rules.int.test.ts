// The repository's alerting rules (deploy/prometheus/rules.yml), checked by the real
// promtool (Debian's prometheus package): they load, each rule's unit tests pass
// (rules.test.yml), and the configuration npm start and the tests give Prometheus is
// one it accepts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PLATFORM_SERVICES } from '@vaxguard/dev-platform';
import {
  ALERT_RULES_FILE,
  ALERT_RULES_TEST_FILE,
  PROMTOOL_BIN,
  prometheusConfig,
} from '@vaxguard/testing';
import { describe, expect, it } from 'vitest';

function promtool(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync(PROMTOOL_BIN, args, { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('the alerting rules', () => {
  it('load: promtool check rules finds all five', () => {
    const checked = promtool('check', 'rules', ALERT_RULES_FILE);
    expect(checked.output).toContain('SUCCESS: 5 rules found');
    expect(checked.status).toBe(0);
  });

  it('fire as their unit tests say, and stay quiet on the near misses: promtool test rules', () => {
    const tested = promtool('test', 'rules', ALERT_RULES_TEST_FILE);
    expect(tested.output).toContain('SUCCESS');
    expect(tested.status).toBe(0);
  });

  it('a broken rule is refused (the check can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vaxguard-rules-'));
    try {
      const broken = join(dir, 'rules.yml');
      writeFileSync(
        broken,
        'groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: up ==\n',
      );
      expect(promtool('check', 'rules', broken).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("Prometheus's configuration, as npm start writes it, passes promtool check config", () => {
    const dir = mkdtempSync(join(tmpdir(), 'vaxguard-prometheus-config-'));
    try {
      const config = join(dir, 'prometheus.yml');
      writeFileSync(
        config,
        prometheusConfig({
          jobs: Object.fromEntries(
            PLATFORM_SERVICES.map((service, index) => [service, [`127.0.0.1:${19101 + index}`]]),
          ),
          ruleFiles: [ALERT_RULES_FILE],
        }),
      );
      const checked = promtool('check', 'config', config);
      expect(checked.output).toContain('SUCCESS');
      expect(checked.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
