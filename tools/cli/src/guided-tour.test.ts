import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { guidedTour, TOUR_COMMAND } from '@vaxguard/dev-operator';
import { vaxguard } from './test-support';

const REF = 'bnf_0123456789abcdefghjkmnpqrs';

/**
 * What npm start prints for a newcomer must work as printed: every command of the tour
 * is this command line, and each parses (it gets as far as looking for the platform,
 * exit 3, never a usage error, exit 2). A tour printing a tool the reader lacks, or an
 * option the command line does not have, fails here.
 */
describe("npm start's guided tour", () => {
  const dir = mkdtempSync(join(tmpdir(), 'vaxguard-tour-'));
  const state = join(dir, 'state');
  const tours = [
    guidedTour({
      stateDir: state,
      citizenMobileFile: join(dir, 'mobile'),
      vaccinated: { ref: REF, svg: join(state, `certificate-${REF}.svg`) },
      traceUrl: 'http://127.0.0.1:16686/api/traces/4bf92f3577b34da6a3ce929d0e0e4736',
    }),
    guidedTour({ stateDir: state, citizenMobileFile: join(dir, 'mobile') }),
  ];
  writeFileSync(join(dir, 'mobile'), '9876543210\n');
  // What the earlier steps leave for the later ones: the token, the card.
  mkdirSync(state);
  writeFileSync(join(state, 'citizen.token'), 'a token\n');
  writeFileSync(join(state, 'my-certificate.shc'), 'shc:/00\n');

  it('is at most 20 lines, numbered in order, and names no tool but npx vaxguard', () => {
    for (const tour of tours) {
      expect(tour.length).toBeLessThanOrEqual(20);
      const steps = tour.map((line) => /^ {2}(\d)\. /.exec(line)?.[1]).filter(Boolean);
      expect(steps).toEqual(steps.map((_, index) => String(index + 1)));
      const commands = tour.filter((line) => line.startsWith('       '));
      expect(commands.length).toBeGreaterThanOrEqual(4);
      for (const line of commands) expect(line, line).toMatch(TOUR_COMMAND);
      expect(tour.join('\n')).not.toMatch(/grpcurl|9876543210/);
    }
  });

  it('prints only commands that parse: each gets as far as looking for the platform', async () => {
    for (const line of tours[0] ?? []) {
      const command = TOUR_COMMAND.exec(line)?.[1];
      if (!command) continue;
      const argv = command
        .replace('<the transaction it printed>', '1b4e28ba-2fa1-11d2-883f-0016d3cca427')
        .split(' ')
        .slice(2);
      const run = await vaxguard(['--platform', join(dir, 'absent.json'), ...argv]);
      expect([run.exitCode, run.stderr], command).toEqual([
        3,
        expect.stringContaining('no platform description'),
      ]);
    }
  });
});
