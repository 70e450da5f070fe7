// Fixtures shared by this library's tests (not exported from index.ts).
import { readFileSync } from 'node:fs';
import { buildImmunizationBundle, type ImmunizationBundleInput } from './fhir';

export const ISSUER = 'https://cards.vaxguard.example';
export const ISSUED_AT = new Date('2021-08-02T10:00:00Z');
export const CVX = 'http://hl7.org/fhir/sid/cvx';

export const TWO_DOSES: ImmunizationBundleInput = {
  patient: { givenNames: ['Asha'], familyName: 'Verma', birthYear: 1985 },
  immunizations: [
    {
      vaccineCodings: [{ system: CVX, code: '210', display: 'COVISHIELD' }],
      occurrenceDate: '2021-05-01',
      lotNumber: '4121Z040',
      performerName: 'PHC Kothrud, Pune',
    },
    {
      vaccineCodings: [{ system: CVX, code: '210' }],
      occurrenceDate: '2021-08-01',
      lotNumber: '4121Z111',
      performerName: 'PHC Kothrud, Pune',
    },
  ],
};

export const twoDoseBundle = () => buildImmunizationBundle(TWO_DOSES);

/** The spec's published example issuer, revocation list and cards (testdata/README.md). */
export const SPEC_ISSUER = 'https://spec.smarthealth.cards/examples/issuer';
export const SPEC_KID = '3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s';
const testdata = (name: string) =>
  readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');
export const specJwks = () => JSON.parse(testdata('spec-example-issuer-jwks.json')) as unknown;
export const specCrl = () => testdata(`spec-example-crl-${SPEC_KID}.json`);
export const specExample00 = () => testdata('spec-example-00-jws.txt').trim();
export const specExample03 = () => testdata('spec-example-03-revoked-jws.txt').trim();
/** A day after the examples were signed (nbf 2024-05-07) and before Example 3 expires. */
export const SPEC_EXAMPLES_NOW = new Date('2024-06-01T00:00:00Z');
