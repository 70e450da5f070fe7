// The guided tour `npm start` prints after its summary: the story in a few commands, each
// working as printed from the repository root (the command line reads npm start's
// .vaxguard/dev/platform.json). A citizen's OTP sign-in and certificate verified offline,
// then the 2023 leak replayed live and what it left in the log. Kept here, as data, so
// that the command line's tests can parse every command it prints.

export interface GuidedTourOptions {
  /** npm start's state folder, as shown from the repository root (`.vaxguard/dev`). */
  readonly stateDir: string;
  /** The file holding the demo citizen's mobile (never printed). */
  readonly citizenMobileFile: string;
  /** The beneficiary the demo vaccinated and its printable certificate, when it got there. */
  readonly vaccinated?: { readonly ref: string; readonly svg: string };
  /**
   * Where one of the demo's calls can be read whole, as a trace from Jaeger's query API
   * (`/api/traces/<id>`), when npm start runs Jaeger and the demo recorded a dose.
   */
  readonly traceUrl?: string;
}

/** What a reader copies: `npx vaxguard ...` with a placeholder in angle brackets at most. */
export const TOUR_COMMAND = /^ {7}(npx vaxguard .*?)(?: {2,}\(.*\))?$/;

/** The tour's lines, at most 20, without colour. */
export function guidedTour(options: GuidedTourOptions): string[] {
  const { stateDir: state, vaccinated } = options;
  const token = `${state}/citizen.token`;
  const certificate = vaccinated && [
    '  2. The citizen fetches their certificate, a SMART Health Card, and anyone can verify it offline:',
    `       npx vaxguard certificate get ${vaccinated.ref} --token-file ${token} --out ${state}/my-certificate.shc --svg ${state}/my-certificate.svg`,
    `       npx vaxguard certificate verify ${state}/my-certificate.shc`,
    `     The printable certificate (open it in a browser): ${vaccinated.svg}`,
  ];
  const next = certificate ? 3 : 2;
  return [
    'Guided tour (each command works as printed from this folder; npx vaxguard --help for more)',
    `  1. A citizen signs in with an OTP; the code is read from the dev SMS inbox (${state}/sms.jsonl):`,
    `       npx vaxguard otp request --mobile-file ${options.citizenMobileFile}`,
    `       npx vaxguard otp confirm <the transaction it printed> --token-file ${token}`,
    ...(certificate ?? []),
    `  ${next}. The 2023 leak replayed live: a vaccinator's login, driven by a bot, looks up 1,000 people;`,
    '     watch every look-up refused, the login suspended, the alert logged, and a verdict:',
    '       npx vaxguard replay-leak',
    `  ${next + 1}. The alert in the log, and the log checked as an outside witness would (its public key only):`,
    '       npx vaxguard alerts tail          (Ctrl-C to stop)',
    '       npx vaxguard audit verify',
    ...(options.traceUrl
      ? [
          `  ${next + 2}. One dose recorded, seen whole: the demo's call, vaccination-record, identity, the event on`,
          `     Kafka and its entry in audit's log, one trace in Jaeger (its spans as JSON): ${options.traceUrl}`,
        ]
      : []),
  ];
}
