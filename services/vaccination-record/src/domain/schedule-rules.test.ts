import { describe, expect, it } from 'vitest';
import { type ProposedDose, type ScheduledDose } from './model';
import {
  addDays,
  checkDose,
  daysBetween,
  indianDateOf,
  nextDoseDue,
  normaliseBatchNumber,
  parseIndianDate,
} from './schedule-rules';
import { type VaccineCode } from './vaccines';

/** How a check refuses, as the caller sees it: the code, a stable reason and the message. */
function refused(code: string, reason: unknown, message?: RegExp): unknown {
  const matcher: unknown = message ? expect.stringMatching(message) : expect.any(String);
  return expect.objectContaining({ code, reason, message: matcher }) as unknown;
}

function dose(vaccineCode: VaccineCode, doseNumber: number, administeredOn: string): ScheduledDose {
  return { vaccineCode, doseNumber, administeredOn };
}

function proposed(
  vaccineCode: string,
  doseNumber: number,
  administeredOn: string,
  batchNumber = '4121Z025',
): ProposedDose {
  return { vaccineCode, doseNumber, administeredOn, batchNumber };
}

/** An adult in every year of the programme, unless a test says otherwise. */
const adult = { today: '2026-11-22', birthYear: 1960 };

describe('dates', () => {
  it('counts whole days between calendar dates, across months and leap days', () => {
    expect(daysBetween('2022-01-03', '2022-03-28')).toBe(84);
    expect(daysBetween('2024-02-28', '2024-03-01')).toBe(2);
    expect(daysBetween('2023-02-28', '2023-03-01')).toBe(1);
    expect(addDays('2021-12-31', 1)).toBe('2022-01-01');
  });

  it('takes the date in India: the day turns at 18:30 UTC', () => {
    expect(indianDateOf(new Date('2024-05-10T18:29:59Z'))).toBe('2024-05-10');
    expect(indianDateOf(new Date('2024-05-10T18:30:00Z'))).toBe('2024-05-11');
  });

  it.each(['2021-02-30', '2021-2-3', '10-05-2024', '', '2024-05-10T00:00', '2023-02-29'])(
    'refuses %j as not a calendar date, INVALID_ARGUMENT',
    (date) => {
      expect(() => parseIndianDate(date)).toThrow(
        refused('INVALID_ARGUMENT', 'INVALID_DATE', /administered_on must be a calendar date/),
      );
      expect(() => checkDose([], proposed('COVISHIELD', 1, date), adult)).toThrow(
        refused('INVALID_ARGUMENT', 'INVALID_DATE'),
      );
    },
  );

  it('refuses a malformed today', () => {
    expect(() =>
      checkDose([], proposed('COVISHIELD', 1, '2022-01-03'), { ...adult, today: '22/11/2026' }),
    ).toThrow(refused('INVALID_ARGUMENT', 'INVALID_DATE', /^today must be/));
  });

  it('accepts the day the programme began and refuses the day before', () => {
    expect(checkDose([], proposed('COVISHIELD', 1, '2021-01-16'), adult).administeredOn).toBe(
      '2021-01-16',
    );
    expect(() => checkDose([], proposed('COVISHIELD', 1, '2021-01-15'), adult)).toThrow(
      refused(
        'FAILED_PRECONDITION',
        'DATE_BEFORE_PROGRAMME',
        /before the programme began on 2021-01-16/,
      ),
    );
  });

  it('accepts today and refuses tomorrow', () => {
    const context = { today: '2024-05-10', birthYear: 1960 };
    expect(checkDose([], proposed('COVAXIN', 1, '2024-05-10'), context).administeredOn).toBe(
      '2024-05-10',
    );
    expect(() => checkDose([], proposed('COVAXIN', 1, '2024-05-11'), context)).toThrow(
      refused('FAILED_PRECONDITION', 'DATE_IN_FUTURE', /in the future/),
    );
  });
});

describe('the vaccine and the dose number', () => {
  it.each(['PFIZER', 'covishield', 'Covishield', '', 'SPUTNIK V'])(
    'refuses the vaccine code %j, INVALID_ARGUMENT',
    (code) => {
      expect(() => checkDose([], proposed(code, 1, '2022-01-03'), adult)).toThrow(
        refused(
          'INVALID_ARGUMENT',
          'UNKNOWN_VACCINE',
          /one of COVISHIELD, COVAXIN, CORBEVAX, SPUTNIK_V/,
        ),
      );
    },
  );

  it.each([0, -1, 1.5, Number.NaN])('refuses dose number %d, INVALID_ARGUMENT', (doseNumber) => {
    expect(() => checkDose([], proposed('COVISHIELD', doseNumber, '2022-01-03'), adult)).toThrow(
      refused('INVALID_ARGUMENT', 'INVALID_DOSE_NUMBER'),
    );
  });
});

describe('doses in sequence', () => {
  const first = dose('COVISHIELD', 1, '2022-01-03');
  const second = dose('COVISHIELD', 2, '2022-03-28');
  const precaution = dose('COVISHIELD', 3, '2022-09-26');

  it('takes dose 1, then 2, then the precaution dose', () => {
    expect(checkDose([], proposed('COVISHIELD', 1, '2022-01-03'), adult).series).toBe('PRIMARY');
    expect(checkDose([first], proposed('COVISHIELD', 2, '2022-03-28'), adult).series).toBe(
      'PRIMARY',
    );
    expect(checkDose([first, second], proposed('COVISHIELD', 3, '2022-09-26'), adult).series).toBe(
      'PRECAUTION',
    );
  });

  it('refuses a gap', () => {
    expect(() => checkDose([], proposed('COVISHIELD', 2, '2022-03-28'), adult)).toThrow(
      refused('FAILED_PRECONDITION', 'DOSE_OUT_OF_SEQUENCE', /dose 2 must follow dose 1/),
    );
    expect(() => checkDose([first], proposed('COVISHIELD', 3, '2022-09-26'), adult)).toThrow(
      refused('FAILED_PRECONDITION', 'DOSE_OUT_OF_SEQUENCE', /dose 3 must follow dose 2/),
    );
  });

  it('refuses a dose number already recorded', () => {
    expect(() => checkDose([first], proposed('COVISHIELD', 1, '2022-02-03'), adult)).toThrow(
      refused('FAILED_PRECONDITION', 'DOSE_ALREADY_RECORDED', /dose 1 is already recorded/),
    );
  });

  it('refuses any dose after the precaution dose', () => {
    for (const doseNumber of [4, 5]) {
      expect(() =>
        checkDose(
          [first, second, precaution],
          proposed('COVISHIELD', doseNumber, '2023-06-01'),
          adult,
        ),
      ).toThrow(
        refused('FAILED_PRECONDITION', 'NO_DOSE_AFTER_PRECAUTION', /after the precaution dose/),
      );
    }
  });

  it('refuses a second dose on the same day', () => {
    expect(() => checkDose([first], proposed('COVISHIELD', 2, '2022-01-03'), adult)).toThrow(
      refused('FAILED_PRECONDITION', 'ONE_DOSE_PER_DAY', /at most one dose/),
    );
  });
});

describe('the primary series', () => {
  // Each vaccine's window for dose 2, as MoHFW published it (Corbevax's and Sputnik V's
  // latest day are ours, named in vaccines.ts): the first and last day it is accepted.
  it.each([
    // vaccine, dose 1, day before the window, first day, last day, day after
    ['COVISHIELD', '2022-01-03', '2022-03-27', '2022-03-28', '2022-04-25', '2022-04-26'],
    ['COVAXIN', '2022-01-03', '2022-01-30', '2022-01-31', '2022-02-14', '2022-02-15'],
    ['CORBEVAX', '2022-03-16', '2022-04-12', '2022-04-13', '2022-04-27', '2022-04-28'],
    ['SPUTNIK_V', '2022-01-03', '2022-01-23', '2022-01-24', '2022-07-02', '2022-07-03'],
  ] as const)(
    '%s dose 2 after dose 1 on %s',
    (vaccine, firstOn, tooEarly, opens, closes, tooLate) => {
      const history = [dose(vaccine, 1, firstOn)];
      expect(checkDose(history, proposed(vaccine, 2, opens), adult).administeredOn).toBe(opens);
      expect(checkDose(history, proposed(vaccine, 2, closes), adult).administeredOn).toBe(closes);
      expect(() => checkDose(history, proposed(vaccine, 2, tooEarly), adult)).toThrow(
        refused(
          'FAILED_PRECONDITION',
          'DOSE_INTERVAL_TOO_SHORT',
          /dose 2 is given \d+ to \d+ days after dose 1: this is too early/,
        ),
      );
      expect(() => checkDose(history, proposed(vaccine, 2, tooLate), adult)).toThrow(
        refused('FAILED_PRECONDITION', 'DOSE_INTERVAL_TOO_LONG', /too late/),
      );
    },
  );

  it('names the vaccine and its window in the refusal', () => {
    expect(() =>
      checkDose(
        [dose('COVISHIELD', 1, '2022-01-03')],
        proposed('COVISHIELD', 2, '2022-02-03'),
        adult,
      ),
    ).toThrow(
      refused(
        'FAILED_PRECONDITION',
        'DOSE_INTERVAL_TOO_SHORT',
        /^Covishield dose 2 is given 84 to 112 days after dose 1/,
      ),
    );
  });

  it('refuses a second dose of another vaccine', () => {
    const history = [dose('COVISHIELD', 1, '2022-01-03')];
    for (const other of ['COVAXIN', 'CORBEVAX', 'SPUTNIK_V']) {
      expect(() => checkDose(history, proposed(other, 2, '2022-03-28'), adult)).toThrow(
        refused('FAILED_PRECONDITION', 'PRIMARY_SERIES_MIXED', /same vaccine/),
      );
    }
  });
});

describe('the precaution dose', () => {
  const covishield = [dose('COVISHIELD', 1, '2022-01-03'), dose('COVISHIELD', 2, '2022-03-28')];
  const covaxin = [dose('COVAXIN', 1, '2022-01-03'), dose('COVAXIN', 2, '2022-01-31')];

  it('is given 26 weeks after dose 2 or later, not a day earlier', () => {
    expect(checkDose(covishield, proposed('COVISHIELD', 3, '2022-09-26'), adult).series).toBe(
      'PRECAUTION',
    );
    expect(checkDose(covishield, proposed('COVISHIELD', 3, '2025-06-01'), adult).series).toBe(
      'PRECAUTION',
    );
    expect(() => checkDose(covishield, proposed('COVISHIELD', 3, '2022-09-25'), adult)).toThrow(
      refused(
        'FAILED_PRECONDITION',
        'PRECAUTION_DOSE_TOO_EARLY',
        /182 days \(26 weeks\) or more after dose 2/,
      ),
    );
  });

  it('is of the primary vaccine, or Corbevax after Covishield or Covaxin', () => {
    expect(checkDose(covishield, proposed('CORBEVAX', 3, '2022-09-26'), adult).vaccineCode).toBe(
      'CORBEVAX',
    );
    expect(checkDose(covaxin, proposed('COVAXIN', 3, '2022-08-01'), adult).vaccineCode).toBe(
      'COVAXIN',
    );
    expect(checkDose(covaxin, proposed('CORBEVAX', 3, '2022-08-01'), adult).vaccineCode).toBe(
      'CORBEVAX',
    );
  });

  it.each([
    ['COVISHIELD', 'COVAXIN', /after a Covishield primary series must be Covishield or Corbevax/],
    ['COVISHIELD', 'SPUTNIK_V', /must be Covishield or Corbevax/],
    ['COVAXIN', 'COVISHIELD', /after a Covaxin primary series must be Covaxin or Corbevax/],
    ['SPUTNIK_V', 'CORBEVAX', /after a Sputnik V primary series must be Sputnik V$/],
    ['CORBEVAX', 'COVISHIELD', /after a Corbevax primary series must be Corbevax$/],
  ] as const)('after %s, refuses %s', (primary, precaution, message) => {
    const history = [dose(primary, 1, '2022-03-16'), dose(primary, 2, '2022-04-27')];
    expect(() => checkDose(history, proposed(precaution, 3, '2023-01-02'), adult)).toThrow(
      refused('FAILED_PRECONDITION', 'PRECAUTION_VACCINE_NOT_ALLOWED', message),
    );
  });
});

describe('age, by year of birth', () => {
  it('gives Corbevax to those who turn 12 in the year of the dose, from 1 January', () => {
    const today = '2024-06-01';
    expect(
      checkDose([], proposed('CORBEVAX', 1, '2022-03-16'), { today, birthYear: 2010 }).series,
    ).toBe('PRIMARY');
    expect(
      checkDose([], proposed('CORBEVAX', 1, '2023-01-01'), { today, birthYear: 2011 }).series,
    ).toBe('PRIMARY');
    expect(() =>
      checkDose([], proposed('CORBEVAX', 1, '2022-12-31'), { today, birthYear: 2011 }),
    ).toThrow(
      refused(
        'FAILED_PRECONDITION',
        'BELOW_MINIMUM_AGE',
        /^Corbevax is given from the age of 12, counted by year of birth/,
      ),
    );
  });

  it.each([
    ['COVAXIN', 15],
    ['COVISHIELD', 18],
    ['SPUTNIK_V', 18],
  ] as const)('gives %s from the year one turns %i', (vaccine, age) => {
    const birthYear = 2008;
    const context = { today: '2026-11-22', birthYear };
    expect(checkDose([], proposed(vaccine, 1, `${birthYear + age}-01-01`), context).series).toBe(
      'PRIMARY',
    );
    expect(() =>
      checkDose([], proposed(vaccine, 1, `${birthYear + age - 1}-12-31`), context),
    ).toThrow(
      refused('FAILED_PRECONDITION', 'BELOW_MINIMUM_AGE', new RegExp(`from the age of ${age}`)),
    );
  });

  it('gives the precaution dose from the year one turns 18, whatever the vaccine', () => {
    // Covaxin at 15 in January 2022: born in 2007, 18 in 2025.
    const context = { today: '2026-11-22', birthYear: 2007 };
    const teen = [dose('COVAXIN', 1, '2022-01-03'), dose('COVAXIN', 2, '2022-01-31')];
    expect(() => checkDose(teen, proposed('COVAXIN', 3, '2024-12-31'), context)).toThrow(
      refused(
        'FAILED_PRECONDITION',
        'BELOW_MINIMUM_AGE',
        /^the precaution dose is given from the age of 18/,
      ),
    );
    expect(checkDose(teen, proposed('COVAXIN', 3, '2025-01-01'), context).series).toBe(
      'PRECAUTION',
    );
    expect(checkDose(teen, proposed('CORBEVAX', 3, '2025-01-01'), context).series).toBe(
      'PRECAUTION',
    );
  });

  it.each([1990.5, Number.NaN, 2027])('refuses year of birth %d, INVALID_ARGUMENT', (birthYear) => {
    expect(() =>
      checkDose([], proposed('COVISHIELD', 1, '2022-01-03'), { today: '2026-11-22', birthYear }),
    ).toThrow(refused('INVALID_ARGUMENT', 'INVALID_YEAR_OF_BIRTH'));
  });
});

describe('batch numbers', () => {
  it.each([
    ['4121Z025', '4121Z025'],
    ['  4121z025 ', '4121Z025'],
    ['ab-12/3c', 'AB-12/3C'],
    ['ABCD', 'ABCD'],
    ['A'.repeat(20), 'A'.repeat(20)],
    ['ＢＢ２１００４', 'BB21004'],
  ])('takes %j as %j', (input, stored) => {
    expect(normaliseBatchNumber(input)).toBe(stored);
  });

  it.each(['ABC', 'A'.repeat(21), 'AB 12', '-AB12', 'AB12/', 'AB--12', 'AB_12', '', '१२३४५'])(
    'refuses %j, INVALID_ARGUMENT naming the format',
    (batchNumber) => {
      expect(() => normaliseBatchNumber(batchNumber)).toThrow(
        refused(
          'INVALID_ARGUMENT',
          'INVALID_BATCH_NUMBER',
          /batch_number must be 4 to 20 letters and digits/,
        ),
      );
    },
  );

  it('returns the dose with its batch number normalised', () => {
    expect(checkDose([], proposed('COVAXIN', 1, '2022-01-03', ' el-8457 '), adult)).toEqual({
      vaccineCode: 'COVAXIN',
      doseNumber: 1,
      administeredOn: '2022-01-03',
      batchNumber: 'EL-8457',
      series: 'PRIMARY',
    });
  });
});

describe('a corrected dose', () => {
  // CorrectDose checks the corrected dose against the history without the dose it replaces.
  const first = dose('COVISHIELD', 1, '2022-01-03');
  const precaution = dose('COVISHIELD', 3, '2022-10-20');

  it('may move dose 2 inside its window while the precaution dose stays 26 weeks after it', () => {
    expect(
      checkDose([first, precaution], proposed('COVISHIELD', 2, '2022-04-21'), adult).administeredOn,
    ).toBe('2022-04-21');
  });

  it('may not move dose 2 so late that the precaution dose comes too early', () => {
    // 2022-04-22 to 2022-10-20 is 181 days.
    expect(() =>
      checkDose([first, precaution], proposed('COVISHIELD', 2, '2022-04-22'), adult),
    ).toThrow(refused('FAILED_PRECONDITION', 'PRECAUTION_DOSE_TOO_EARLY'));
  });

  it('may not change dose 1 to a vaccine other than dose 2', () => {
    const second = dose('COVISHIELD', 2, '2022-03-28');
    expect(() =>
      checkDose([second, precaution], proposed('COVAXIN', 1, '2022-01-03'), adult),
    ).toThrow(refused('FAILED_PRECONDITION', 'PRIMARY_SERIES_MIXED'));
  });
});

describe('refusals carry no personal data', () => {
  it('never repeats the dates, the year of birth or the batch number', () => {
    const birthYear = 1987;
    const context = { today: '2023-07-19', birthYear };
    const attempts: [ScheduledDose[], ProposedDose][] = [
      [[], proposed('COVISHIELD', 1, '2023-07-20', 'QX-771/9')],
      [[], proposed('COVISHIELD', 1, '2021-01-09', 'QX-771/9')],
      [[], proposed('COVISHIELD', 1, '2023-07-1', 'QX-771/9')],
      [[], proposed('COVISHIELD', 1, '2023-05-04', 'QX 771')],
      [[dose('COVISHIELD', 1, '2023-05-04')], proposed('COVISHIELD', 2, '2023-06-13', 'QX-771/9')],
      [[dose('COVISHIELD', 1, '2023-01-04')], proposed('COVISHIELD', 2, '2023-07-13', 'QX-771/9')],
      [[dose('COVISHIELD', 1, '2023-05-04')], proposed('COVISHIELD', 3, '2023-07-13', 'QX-771/9')],
    ];
    for (const [history, attempt] of attempts) {
      let message = '';
      try {
        checkDose(history, attempt, context);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).not.toBe('');
      const personal = [
        String(birthYear),
        attempt.administeredOn,
        attempt.batchNumber,
        'QX',
        ...history.map((past) => past.administeredOn),
      ];
      for (const value of personal) expect(message).not.toContain(value);
    }
  });
});

describe('the next dose due', () => {
  it('offers every vaccine for dose 1 to an adult, from the start of the programme', () => {
    const due = nextDoseDue([], { birthYear: 1960 });
    expect(due).toEqual({
      complete: false,
      doseNumber: 1,
      series: 'PRIMARY',
      earliest: '2021-01-16',
      options: [
        { vaccineCode: 'COVISHIELD', earliest: '2021-01-16' },
        { vaccineCode: 'COVAXIN', earliest: '2021-01-16' },
        { vaccineCode: 'CORBEVAX', earliest: '2021-01-16' },
        { vaccineCode: 'SPUTNIK_V', earliest: '2021-01-16' },
      ],
    });
  });

  it('opens each vaccine for a child in the year the child reaches its age', () => {
    const due = nextDoseDue([], { birthYear: 2010 });
    expect(due).toMatchObject({ doseNumber: 1, earliest: '2022-01-01' });
    expect(due.complete === false && due.options).toEqual([
      { vaccineCode: 'COVISHIELD', earliest: '2028-01-01' },
      { vaccineCode: 'COVAXIN', earliest: '2025-01-01' },
      { vaccineCode: 'CORBEVAX', earliest: '2022-01-01' },
      { vaccineCode: 'SPUTNIK_V', earliest: '2028-01-01' },
    ]);
  });

  it('gives dose 2 of the same vaccine, in its window', () => {
    expect(nextDoseDue([dose('COVISHIELD', 1, '2022-01-03')], { birthYear: 1960 })).toEqual({
      complete: false,
      doseNumber: 2,
      series: 'PRIMARY',
      earliest: '2022-03-28',
      latest: '2022-04-25',
      options: [{ vaccineCode: 'COVISHIELD', earliest: '2022-03-28', latest: '2022-04-25' }],
    });
    expect(nextDoseDue([dose('SPUTNIK_V', 1, '2022-01-03')], { birthYear: 1960 })).toMatchObject({
      doseNumber: 2,
      earliest: '2022-01-24',
      latest: '2022-07-02',
    });
  });

  it('gives the precaution dose 26 weeks after dose 2, homologous or Corbevax', () => {
    const history = [dose('COVISHIELD', 2, '2022-03-28'), dose('COVISHIELD', 1, '2022-01-03')];
    expect(nextDoseDue(history, { birthYear: 1960 })).toEqual({
      complete: false,
      doseNumber: 3,
      series: 'PRECAUTION',
      earliest: '2022-09-26',
      options: [
        { vaccineCode: 'COVISHIELD', earliest: '2022-09-26' },
        { vaccineCode: 'CORBEVAX', earliest: '2022-09-26' },
      ],
    });
  });

  it('waits for a teenager to turn 18 before the precaution dose', () => {
    const teen = [dose('COVAXIN', 1, '2022-01-03'), dose('COVAXIN', 2, '2022-01-31')];
    expect(nextDoseDue(teen, { birthYear: 2007 })).toMatchObject({
      doseNumber: 3,
      earliest: '2025-01-01',
      options: [
        { vaccineCode: 'COVAXIN', earliest: '2025-01-01' },
        { vaccineCode: 'CORBEVAX', earliest: '2025-01-01' },
      ],
    });
    expect(nextDoseDue(teen, { birthYear: 1990 })).toMatchObject({ earliest: '2022-08-01' });
  });

  it('has nothing due after the precaution dose', () => {
    const history = [
      dose('COVAXIN', 1, '2022-01-03'),
      dose('COVAXIN', 2, '2022-01-31'),
      dose('CORBEVAX', 3, '2022-08-20'),
    ];
    expect(nextDoseDue(history, { birthYear: 1960 })).toEqual({ complete: true });
  });

  it('agrees with checkDose: its first and last days are accepted, the days beside them refused', () => {
    const cases: ScheduledDose[][] = [
      [dose('COVAXIN', 1, '2023-03-01')],
      [dose('CORBEVAX', 1, '2023-03-01')],
      [dose('SPUTNIK_V', 1, '2023-03-01')],
      [dose('COVISHIELD', 1, '2022-11-01'), dose('COVISHIELD', 2, '2023-02-01')],
    ];
    for (const history of cases) {
      const due = nextDoseDue(history, { birthYear: 1960 });
      if (due.complete) throw new Error('expected a dose due');
      for (const option of due.options) {
        const attempt = (on: string) =>
          checkDose(history, proposed(option.vaccineCode, due.doseNumber, on), adult);
        expect(attempt(option.earliest).administeredOn).toBe(option.earliest);
        expect(() => attempt(addDays(option.earliest, -1))).toThrow(
          refused('FAILED_PRECONDITION', expect.stringMatching(/TOO_SHORT|TOO_EARLY/)),
        );
        if (option.latest !== undefined) {
          expect(attempt(option.latest).administeredOn).toBe(option.latest);
          expect(() => attempt(addDays(option.latest as string, 1))).toThrow(
            refused('FAILED_PRECONDITION', 'DOSE_INTERVAL_TOO_LONG'),
          );
        }
      }
    }
  });
});
