import { describe, expect, it } from 'vitest';
import { InvalidImmunizationInputError } from './errors';
import { buildImmunizationBundle, type ImmunizationBundle, readImmunizationBundle } from './fhir';
import { inflateRawSync } from 'node:zlib';
import { CVX, specExample00, TWO_DOSES, twoDoseBundle } from './test-support';

/** The structure of a JSON value: its keys and value types, recursively, no values. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return [shape(value[0])];
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .map(([k, v]) => [k, shape(v)] as const)
        .sort(([a], [b]) => a.localeCompare(b)),
    );
  }
  return typeof value;
}

function specExampleBundle(): { entry: { resource: { resourceType: string } }[] } {
  const payload = specExample00().split('.')[1]!;
  const claims = JSON.parse(inflateRawSync(Buffer.from(payload, 'base64url')).toString()) as {
    vc: { credentialSubject: { fhirBundle: { entry: { resource: { resourceType: string } }[] } } };
  };
  return claims.vc.credentialSubject.fhirBundle;
}

describe('buildImmunizationBundle', () => {
  it('builds a minimised collection bundle: resource:N urls, the year of birth only', () => {
    const bundle = twoDoseBundle();
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'collection' });
    expect(bundle.entry.map((e) => e.fullUrl)).toEqual(['resource:0', 'resource:1', 'resource:2']);
    expect(bundle.entry[0].resource).toEqual({
      resourceType: 'Patient',
      name: [{ family: 'Verma', given: ['Asha'] }],
      birthDate: '1985',
    });
    expect(bundle.entry[1]!.resource).toEqual({
      resourceType: 'Immunization',
      status: 'completed',
      vaccineCode: { coding: [{ system: CVX, code: '210' }] },
      patient: { reference: 'resource:0' },
      occurrenceDateTime: '2021-05-01',
      performer: [{ actor: { display: 'PHC Kothrud, Pune' } }],
      lotNumber: '4121Z040',
    });
  });

  it('writes no id, meta, text or Coding.display anywhere ("Health Cards are Compact")', () => {
    const json = JSON.stringify(twoDoseBundle());
    for (const field of ['"id"', '"meta"', '"text"', '"display":"COVISHIELD"']) {
      expect(json).not.toContain(field);
    }
  });

  it('follows the shape of the spec example bundle, resource by resource', () => {
    const example = specExampleBundle();
    const ours = twoDoseBundle();
    expect(shape({ ...ours, entry: undefined })).toEqual(shape({ ...example, entry: undefined }));
    for (const type of ['Patient', 'Immunization']) {
      const theirs = example.entry.find((e) => e.resource.resourceType === type)!;
      const mine = ours.entry.find((e) => e.resource.resourceType === type)!;
      expect(shape(mine)).toEqual(shape(theirs));
    }
  });

  it('copies only the fields it knows: an ID number or phone passed in never reaches the card', () => {
    const input = {
      ...TWO_DOSES,
      patient: { ...TWO_DOSES.patient, phone: '9876543210', idNumber: '234123412346' },
    };
    const json = JSON.stringify(buildImmunizationBundle(input));
    expect(json).not.toContain('9876543210');
    expect(json).not.toContain('234123412346');
  });

  it('takes a single name without a family name', () => {
    const bundle = buildImmunizationBundle({
      ...TWO_DOSES,
      patient: { givenNames: ['Ramesh'], birthYear: 1960 },
    });
    expect(bundle.entry[0].resource.name).toEqual([{ given: ['Ramesh'] }]);
  });

  it.each([
    ['no given name', { ...TWO_DOSES, patient: { ...TWO_DOSES.patient, givenNames: [] } }],
    ['a two-digit year', { ...TWO_DOSES, patient: { ...TWO_DOSES.patient, birthYear: 85 } }],
    ['no dose', { ...TWO_DOSES, immunizations: [] }],
    [
      'an impossible date',
      {
        ...TWO_DOSES,
        immunizations: [{ ...TWO_DOSES.immunizations[0]!, occurrenceDate: '2021-02-30' }],
      },
    ],
    [
      'an empty lot number',
      { ...TWO_DOSES, immunizations: [{ ...TWO_DOSES.immunizations[0]!, lotNumber: ' ' }] },
    ],
    [
      'no vaccine coding',
      { ...TWO_DOSES, immunizations: [{ ...TWO_DOSES.immunizations[0]!, vaccineCodings: [] }] },
    ],
  ])('refuses %s', (_name, input) => {
    expect(() => buildImmunizationBundle(input)).toThrow(InvalidImmunizationInputError);
  });
});

describe('readImmunizationBundle', () => {
  it('reads what the builder writes', () => {
    const content = readImmunizationBundle(twoDoseBundle());
    expect(content).toMatchObject({
      ok: true,
      patient: { name: 'Asha Verma', birthYear: 1985 },
      immunizations: [
        { occurrenceDate: '2021-05-01', lotNumber: '4121Z040' },
        { occurrenceDate: '2021-08-01' },
      ],
    });
  });

  it('calls a bundle without Immunization not an immunization card', () => {
    const bundle = { ...twoDoseBundle(), entry: [twoDoseBundle().entry[0]] };
    expect(readImmunizationBundle(bundle)).toMatchObject({
      ok: false,
      reason: 'NOT_AN_IMMUNIZATION_CARD',
    });
  });

  it.each([
    ['two patients', (b: ImmunizationBundle) => ({ ...b, entry: [b.entry[0], ...b.entry] })],
    [
      'a dose for someone else',
      (b: ImmunizationBundle) => withDose(b, { patient: { reference: 'resource:9' } }),
    ],
    [
      'a dose without vaccine code',
      (b: ImmunizationBundle) => withDose(b, { vaccineCode: undefined }),
    ],
    [
      'a dose without date',
      (b: ImmunizationBundle) => withDose(b, { occurrenceDateTime: '1st May' }),
    ],
    ['an unknown status', (b: ImmunizationBundle) => withDose(b, { status: 'done' })],
    [
      'a patient without birth date',
      (b: ImmunizationBundle) => withPatient(b, { birthDate: undefined }),
    ],
    ['a patient without name', (b: ImmunizationBundle) => withPatient(b, { name: [] })],
    ['not a bundle', () => ({ resourceType: 'Patient' })],
  ])('calls %s bad FHIR', (_name, change) => {
    expect(readImmunizationBundle(change(twoDoseBundle()))).toMatchObject({
      ok: false,
      reason: 'BAD_FHIR',
    });
  });
});

function withDose(bundle: ImmunizationBundle, change: object): unknown {
  const [patient, dose, ...rest] = bundle.entry;
  return {
    ...bundle,
    entry: [patient, { ...dose!, resource: { ...dose!.resource, ...change } }, ...rest],
  };
}

function withPatient(bundle: ImmunizationBundle, change: object): unknown {
  const [patient, ...rest] = bundle.entry;
  return {
    ...bundle,
    entry: [{ ...patient, resource: { ...patient.resource, ...change } }, ...rest],
  };
}
