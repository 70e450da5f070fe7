import {
  apiLockScopeFromProto,
  requireStaffSession,
  staffSessionOf,
  type MethodPolicies,
} from '@vaxguard/auth';
import { GENDER, PHOTO_ID_KIND, PRINCIPAL_KIND, STAFF_ROLE } from '@vaxguard/event-catalogue';
import { permissionDenied, unauthenticated } from '@vaxguard/errors';
import type { CallContext, Principal, ServiceHandlers } from '@vaxguard/grpc-kit';
import type { identityV1 } from '@vaxguard/proto';
import { AUDIENCE } from '@vaxguard/tokens';
import type {
  BeneficiaryService,
  BeneficiaryView,
  StaffActor,
  Viewer,
} from '../domain/beneficiary-service';
import type { ConsentRequester, ConsentService } from '../domain/consent-service';
import type { AdminActor, PrincipalService } from '../domain/principals';

export const IDENTITY_SERVICE_NAME = 'vaxguard.identity.v1.IdentityService';
const path = (method: string) => `/${IDENTITY_SERVICE_NAME}/${method}`;

/** Which token each method asks for, beyond the client's credentials. */
const STAFF_SESSION = { token: [AUDIENCE.staff] };
export const IDENTITY_METHOD_POLICIES: MethodPolicies = {
  [path('RegisterBeneficiary')]: { token: [AUDIENCE.citizen] },
  [path('ListMyBeneficiaries')]: { token: [AUDIENCE.citizen] },
  [path('GetBeneficiary')]: { token: [AUDIENCE.citizen, AUDIENCE.consent] },
  // A staff member asks in their own name; a partner client, without a token, in its own.
  [path('RequestConsent')]: { token: [AUDIENCE.staff], optional: true },
  [path('VerifySecretCode')]: STAFF_SESSION,
  [path('CreateCentre')]: STAFF_SESSION,
  [path('CreateStaff')]: STAFF_SESSION,
  [path('RegisterPartner')]: STAFF_SESSION,
  [path('MarkCanary')]: STAFF_SESSION,
  // The audit service suspends with its own client credentials (scope principal:suspend).
  [path('SuspendPrincipal')]: { token: [AUDIENCE.staff], optional: true },
  [path('ReinstatePrincipal')]: STAFF_SESSION,
  [path('LockPartner')]: STAFF_SESSION,
  [path('UnlockPartner')]: STAFF_SESSION,
  [path('SetApiLock')]: STAFF_SESSION,
  [path('ClearApiLock')]: STAFF_SESSION,
};

/** The staff member a staff session names, or the calling service by its client. */
function adminOf(principal: Principal): AdminActor {
  const session = staffSessionOf(principal);
  if (session) return { kind: 'staff', ...session };
  return { kind: 'service', clientId: principal.clientId, scopes: principal.scopes };
}

function staffOf(principal: Principal): StaffActor {
  const { staffId, role, clientId } = requireStaffSession(principal);
  return { staffId, role, clientId };
}

/** Staff ask for consent as themselves; a client application without a token, as itself. */
function consentRequesterOf(principal: Principal): ConsentRequester {
  const admin = adminOf(principal);
  if (admin.kind === 'staff') {
    if (admin.role !== 'VACCINATOR' && admin.role !== 'CENTRE_ADMIN') {
      throw permissionDenied('only vaccinators and centre admins ask beneficiaries for consent', {
        reason: 'NOT_CENTRE_STAFF',
      });
    }
    return {
      kind: 'grantee',
      granteeKind: 'STAFF',
      granteeId: admin.staffId,
      clientId: principal.clientId,
    };
  }
  return {
    kind: 'grantee',
    granteeKind: 'PARTNER_CLIENT',
    granteeId: principal.clientId,
    clientId: principal.clientId,
  };
}

/**
 * The reader a verified token names: a citizen by mobile index, or a consent's grantee.
 * The reader's client is the one the token was issued to, also when a platform service
 * relays it: a partner's view is cut by the partner's own scopes, never the relay's.
 */
function viewerOf(principal: Principal, scopesOf: (clientId: string) => readonly string[]): Viewer {
  const token = principal.token;
  if (token?.audience === AUDIENCE.citizen) {
    return { kind: 'citizen', mobileIndex: token.subject, clientId: token.clientId };
  }
  if (token?.audience === AUDIENCE.consent && token.consent) {
    return {
      kind: 'grantee',
      granteeKind: token.consent.grantee.kind,
      granteeId: token.consent.grantee.id,
      clientId: token.clientId,
      grant: { beneficiaryRefs: token.consent.beneficiaryRefs, grantId: token.tokenId },
      scopes: scopesOf(token.clientId),
    };
  }
  // The authenticator admits only the audiences the method names; this guards the mapping.
  throw unauthenticated('this method needs a citizen token or a consent grant', {
    reason: 'TOKEN_REQUIRED',
  });
}

function citizenOf(context: CallContext): Extract<Viewer, { kind: 'citizen' }> {
  const viewer = viewerOf(context.principal, () => []);
  if (viewer.kind !== 'citizen') {
    throw unauthenticated('this method needs a citizen token', { reason: 'TOKEN_REQUIRED' });
  }
  return viewer;
}

function toProto(view: BeneficiaryView): identityV1.Beneficiary {
  return {
    beneficiaryRef: view.beneficiaryRef,
    name: view.name ?? '',
    gender: view.gender ? GENDER.toProto(view.gender) : 0,
    yearOfBirth: view.yearOfBirth ?? 0,
    photoIdKind: view.photoIdKind ? PHOTO_ID_KIND.toProto(view.photoIdKind) : 0,
    maskedPhotoId: view.maskedPhotoId ?? '',
    maskedMobile: view.maskedMobile ?? '',
  };
}

/** The gRPC face of the identity service: proto in, domain call, proto out. */
export function identityHandlers(
  beneficiaries: BeneficiaryService,
  consents: ConsentService,
  principals: PrincipalService,
  scopesOf: (clientId: string) => readonly string[],
): ServiceHandlers<typeof identityV1.IdentityServiceService> {
  const principalRef = (ref: identityV1.PrincipalRef | undefined) => {
    const kind = PRINCIPAL_KIND.fromProto(ref?.kind ?? 0);
    return kind ? { kind, id: ref?.id ?? '' } : undefined;
  };
  return {
    async registerBeneficiary(request, context) {
      const registered = await beneficiaries.register(citizenOf(context), {
        mobile: request.mobile,
        name: request.name,
        gender: GENDER.fromProto(request.gender),
        yearOfBirth: request.yearOfBirth,
        photoIdKind: PHOTO_ID_KIND.fromProto(request.photoIdKind),
        photoIdNumber: request.photoIdNumber,
      });
      return { beneficiary: toProto(registered.beneficiary), secretCode: registered.secretCode };
    },

    async listMyBeneficiaries(_request, context) {
      const views = await beneficiaries.listMine(citizenOf(context), context.method);
      return { beneficiaries: views.map(toProto) };
    },

    async getBeneficiary(request, context) {
      const view = await beneficiaries.get(
        viewerOf(context.principal, scopesOf),
        request.beneficiaryRef,
        context.method,
      );
      return { beneficiary: toProto(view) };
    },

    async requestConsent(request, { principal }) {
      const target =
        request.target?.$case === 'mobile'
          ? { mobile: request.target.value }
          : { beneficiaryRef: request.target?.value ?? '' };
      return consents.request(consentRequesterOf(principal), target);
    },

    async verifySecretCode(request, { principal, method }) {
      return beneficiaries.verifySecretCode(
        staffOf(principal),
        request.beneficiaryRef,
        request.secretCode,
        method,
      );
    },

    async startStaffLogin(request, { principal }) {
      return principals.startLogin(principal, request.username, request.password);
    },

    async createCentre(request, { principal }) {
      return { centre: await principals.createCentre(adminOf(principal), request) };
    },

    async createStaff(request, { principal }) {
      const staff = await principals.createStaff(adminOf(principal), {
        ...request,
        role: STAFF_ROLE.fromProto(request.role),
      });
      return {
        staff: {
          staffId: staff.staffId,
          username: staff.username,
          displayName: staff.displayName,
          role: STAFF_ROLE.toProto(staff.role),
          centreId: staff.centreId,
          maskedMobile: staff.maskedMobile,
        },
      };
    },

    async registerPartner(request, { principal }) {
      return principals.registerPartner(adminOf(principal), request);
    },

    async markCanary(request, { principal }) {
      await beneficiaries.markCanary(staffOf(principal), request.beneficiaryRef);
      return {};
    },

    async suspendPrincipal(request, { principal }) {
      await principals.setSuspended(
        adminOf(principal),
        principalRef(request.principal),
        true,
        request.reason,
        { confirmPlatformService: request.confirmPlatformService },
      );
      return {};
    },

    async reinstatePrincipal(request, { principal }) {
      await principals.setSuspended(
        adminOf(principal),
        principalRef(request.principal),
        false,
        request.reason,
      );
      return {};
    },

    async lockPartner(request, { principal }) {
      await principals.setPartnerLocked(adminOf(principal), request.clientId, true, request.reason);
      return {};
    },

    async unlockPartner(request, { principal }) {
      await principals.setPartnerLocked(
        adminOf(principal),
        request.clientId,
        false,
        request.reason,
      );
      return {};
    },

    async setApiLock(request, { principal }) {
      await principals.setApiLock(
        adminOf(principal),
        apiLockScopeFromProto(request.scope),
        true,
        request.reason,
        { confirmPlatformService: request.confirmPlatformService },
      );
      return {};
    },

    async clearApiLock(request, { principal }) {
      await principals.setApiLock(
        adminOf(principal),
        apiLockScopeFromProto(request.scope),
        false,
        request.reason,
      );
      return {};
    },
  };
}
