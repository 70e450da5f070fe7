// `vaxguard replay-leak`: the 2023 attack replayed live against the running platform. A
// genuine vaccinator's login, driven by a bot, looks up a thousand people it has no
// consent for; each step is printed as it happens (the look-ups refused, the suspension,
// the alert and the log entries that prove it, the login refused in every service) and
// the run ends with a verdict line. It creates its own centre, vaccinator, auditor and
// citizen, so it can be run again; it prints no mobile, identity number, code or token.
import type { Command } from 'commander';
import { replayLeak, type LeakReplayStep } from '@vaxguard/testing';
import type { CliCommand } from '../cli';
import type { CommandContext } from '../context';
import { EXIT } from '../errors';
import { wholeNumber } from '../parse';

function lineOf(step: LeakReplayStep): string {
  switch (step.kind) {
    case 'setup':
      return `  setup     ${step.text}`;
    case 'lookups':
      return `  bot       ${step.attempted} look-ups, ${step.refused} refused, ${step.personalData} with personal data`;
    case 'refused-suspended':
      return `  bot       look-up ${step.atLookup} refused: the login is suspended (PRINCIPAL_SUSPENDED); the bot goes on`;
    case 'suspended':
      return step.sinceCrossingMs === undefined
        ? `  suspended NOT within the run (${step.afterLookups} look-ups)`
        : `  suspended ${Math.round(step.sinceCrossingMs)} ms after the look-up that crossed the threshold`;
    case 'log':
      return `  log       ${step.text}`;
    case 'refused':
      return step.refusal
        ? `  refused   ${step.service.padEnd(19)} ${step.call}: ${step.refusal.reason ?? step.refusal.code}`
        : `  ANSWERED  ${step.service.padEnd(19)} ${step.call}`;
    case 'verdict':
      return `verdict: ${step.text}`;
  }
}

async function replay(context: CommandContext, options: { lookups: number }) {
  const platform = context.platform();
  if (!context.json) {
    context.io.stdout(
      `replaying the 2023 leak against ${platform.services.identity}: a vaccinator's login, a bot, ${options.lookups} distinct mobiles and identity numbers\n`,
    );
  }
  const report = await replayLeak({
    platform,
    lookups: options.lookups,
    onStep: (step) => {
      if (!context.json) context.io.stdout(`${lineOf(step)}\n`);
    },
  });
  if (context.json) {
    // Everything but the raw values the replay used (made-up, but never printed).
    context.result([], {
      stopped: report.stopped,
      vaccinatorId: report.vaccinatorId,
      lookups: report.lookups.length,
      refused: report.lookups.filter((lookup) => lookup.refusal).length,
      personalDataAnswers: report.personalDataAnswers,
      crossing: report.crossing,
      suspendedAfterMs: report.suspendedAfterMs,
      alert: report.alert,
      suspension: report.suspension,
      afterwards: report.afterwards,
    });
  }
  return report.stopped ? EXIT.ok : EXIT.failed;
}

export const replayLeakCommand: CliCommand = {
  register(program: Command, kit) {
    program
      .command('replay-leak')
      .description(
        'replay the 2023 CoWIN leak live: a vaccinator login driven by a bot looks people up; prints each step and a verdict',
      )
      .option(
        '--lookups <count>',
        'distinct mobile numbers (and identity numbers) the bot tries',
        wholeNumber(1, 100_000),
        1_000,
      )
      .addHelpText(
        'after',
        '\nExits 0 when the attack was stopped (no personal data, the login suspended within 5 s, the alert and the suspension in the log, refused everywhere), 1 when not.',
      )
      .action(kit.action(replay));
  },
};
