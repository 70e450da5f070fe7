import { describe, expect, it } from 'vitest';
import {
  describeAccess,
  directoryIdsOf,
  type DirectoryEntries,
  type RecordedAccess,
} from './access-history';

const at = new Date('2026-03-02T06:00:00Z');

function access(overrides: Partial<RecordedAccess>): RecordedAccess {
  return {
    beneficiaryRef: 'bnf_1',
    occurredAt: at,
    granted: true,
    actorKind: 'STAFF',
    actorId: 'stf-v',
    role: '',
    centreOrPartner: '',
    purpose: '/vaxguard.identity.v1.IdentityService/GetBeneficiary',
    refusal: '',
    ...overrides,
  };
}

const directory: DirectoryEntries = {
  staff: new Map([
    ['stf-v', { role: 'VACCINATOR', centreId: 'ctr-andheri' }],
    ['stf-a', { role: 'AUDITOR', centreId: '' }],
  ]),
  centres: new Map([
    ['ctr-andheri', { name: 'PHC Andheri', district: 'Mumbai Suburban', state: 'Maharashtra' }],
    ['ctr-kothrud', { name: 'UPHC Kothrud', district: 'Pune', state: 'Maharashtra' }],
  ]),
  partners: new Map([['umang', 'UMANG']]),
};

describe('describeAccess', () => {
  it("names a staff member's role and centre from what identity announced, when the reading service did not", () => {
    expect(describeAccess(access({}), directory)).toEqual({
      beneficiaryRef: 'bnf_1',
      occurredAt: at,
      granted: true,
      role: 'VACCINATOR',
      centreOrPartner: 'ctr-andheri',
      centreName: 'PHC Andheri',
      partnerName: '',
      purpose: '/vaxguard.identity.v1.IdentityService/GetBeneficiary',
      refusal: '',
    });
  });

  it('keeps the role and centre the reading service named (the session it read with)', () => {
    const view = describeAccess(
      access({ role: 'CENTRE_ADMIN', centreOrPartner: 'ctr-kothrud', purpose: 'CORRECTION' }),
      directory,
    );
    expect([view.role, view.centreOrPartner, view.centreName]).toEqual([
      'CENTRE_ADMIN',
      'ctr-kothrud',
      'UPHC Kothrud',
    ]);
  });

  it('names the partner application that read, by the acting client or the one the service named', () => {
    const byIdentity = describeAccess(
      access({ actorKind: 'PARTNER_CLIENT', actorId: 'umang' }),
      directory,
    );
    expect([byIdentity.role, byIdentity.centreOrPartner, byIdentity.partnerName]).toEqual([
      'PARTNER_CLIENT',
      'umang',
      'UMANG',
    ]);
    const byRecords = describeAccess(
      access({
        actorKind: 'PARTNER_CLIENT',
        actorId: 'umang',
        role: 'PARTNER_CLIENT',
        centreOrPartner: 'umang',
        granted: false,
        refusal: 'NO_CONSENT',
      }),
      directory,
    );
    expect([byRecords.partnerName, byRecords.centreName, byRecords.refusal]).toEqual([
      'UMANG',
      '',
      'NO_CONSENT',
    ]);
  });

  it('leaves names it does not know empty, keeping the ids and the kind of reader', () => {
    const stranger = describeAccess(access({ actorId: 'stf-unknown' }), directory);
    expect([stranger.role, stranger.centreOrPartner, stranger.centreName]).toEqual([
      'STAFF',
      '',
      '',
    ]);
    const newPartner = describeAccess(
      access({ actorKind: 'PARTNER_CLIENT', actorId: 'new-app' }),
      directory,
    );
    expect([newPartner.centreOrPartner, newPartner.partnerName]).toEqual(['new-app', '']);
  });

  it("shows a citizen's own reads as theirs, with no centre or partner", () => {
    const own = describeAccess(
      access({ actorKind: 'CITIZEN', actorId: 'mobile-index' }),
      directory,
    );
    expect([own.role, own.centreOrPartner, own.centreName, own.partnerName]).toEqual([
      'CITIZEN',
      '',
      '',
      '',
    ]);
    expect(JSON.stringify(own)).not.toContain('mobile-index');
  });
});

describe('directoryIdsOf', () => {
  it('asks for each staff member, named centre and partner once, and for no citizen', () => {
    expect(
      directoryIdsOf([
        access({}),
        access({ beneficiaryRef: 'bnf_2' }),
        access({ centreOrPartner: 'ctr-kothrud' }),
        access({ actorKind: 'PARTNER_CLIENT', actorId: 'umang' }),
        access({ actorKind: 'PARTNER_CLIENT', actorId: 'umang', centreOrPartner: 'umang' }),
        access({ actorKind: 'CITIZEN', actorId: 'mobile-index' }),
      ]),
    ).toEqual({ centreIds: ['ctr-kothrud'], staffIds: ['stf-v'], partnerIds: ['umang'] });
  });
});
