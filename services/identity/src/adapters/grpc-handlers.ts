import type { MethodPolicies } from '@vaxguard/auth';
import { GENDER, PHOTO_ID_KIND } from '@vaxguard/event-catalogue';
import { unauthenticated } from '@vaxguard/errors';
import type { CallContext, Principal, ServiceHandlers } from '@vaxguard/grpc-kit';
import type { identityV1 } from '@vaxguard/proto';
import { AUDIENCE } from '@vaxguard/tokens';
import type { BeneficiaryService, BeneficiaryView, Viewer } from '../domain/beneficiary-service';
import type { ConsentService } from '../domain/consent-service';

export const IDENTITY_SERVICE_NAME = 'vaxguard.identity.v1.IdentityService';
const path = (method: string) => `/${IDENTITY_SERVICE_NAME}/${method}`;

/** Which token each method asks for, beyond the client's credentials. */
export const IDENTITY_METHOD_POLICIES: MethodPolicies = {
  [path('RegisterBeneficiary')]: { token: [AUDIENCE.citizen] },
  [path('ListMyBeneficiaries')]: { token: [AUDIENCE.citizen] },
  [path('GetBeneficiary')]: { token: [AUDIENCE.citizen, AUDIENCE.consent] },
};

/** The reader a verified token names: a citizen by mobile index, or a consent's grantee. */
function viewerOf(principal: Principal): Viewer {
  const token = principal.token;
  if (token?.audience === AUDIENCE.citizen) {
    return { kind: 'citizen', mobileIndex: token.subject, clientId: principal.clientId };
  }
  if (token?.audience === AUDIENCE.consent && token.consent) {
    return {
      kind: 'grantee',
      granteeKind: token.consent.grantee.kind,
      granteeId: token.consent.grantee.id,
      clientId: principal.clientId,
      grant: { beneficiaryRefs: token.consent.beneficiaryRefs, grantId: token.tokenId },
      scopes: principal.clientScopes ?? [],
    };
  }
  // The authenticator admits only the audiences the method names; this guards the mapping.
  throw unauthenticated('this method needs a citizen token or a consent grant', {
    reason: 'TOKEN_REQUIRED',
  });
}

function citizenOf(context: CallContext): Extract<Viewer, { kind: 'citizen' }> {
  const viewer = viewerOf(context.principal);
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
): ServiceHandlers<typeof identityV1.IdentityServiceService> {
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
        viewerOf(context.principal),
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
      return consents.request(
        {
          kind: 'grantee',
          granteeKind: 'PARTNER_CLIENT',
          granteeId: principal.clientId,
          clientId: principal.clientId,
        },
        target,
      );
    },
  };
}
