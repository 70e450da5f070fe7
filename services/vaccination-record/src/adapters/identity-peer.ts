import { Metadata } from '@grpc/grpc-js';
import { checkTokenHolder, type AccessRegistry } from '@vaxguard/auth';
import { isVaxGuardError, unauthenticated } from '@vaxguard/errors';
import { createServiceClient, type ServiceClient } from '@vaxguard/grpc-kit';
import { identityV1 } from '@vaxguard/proto';
import { AUDIENCE, TOKEN_HEADER, type TokenVerifier } from '@vaxguard/tokens';
import type {
  BeneficiaryDirectory,
  BeneficiaryFacts,
  GrantVerifier,
} from '../domain/record-service';
import type { ConsentGrant } from '../domain/record-rules';

/**
 * Identity's GetBeneficiary, called with this service's own credentials and the user's
 * token (citizen token or consent grant) relayed in x-vaxguard-token: identity decides
 * what the user may see, and records the read. Needs the token:relay scope at identity.
 */
export class IdentityPeer implements BeneficiaryDirectory {
  private readonly client: ServiceClient<typeof identityV1.IdentityServiceService>;

  constructor(options: { address: string; clientId: string; secret: string }) {
    this.client = createServiceClient(identityV1.IdentityServiceService, {
      ...options,
      deadlineMs: 5_000,
    });
  }

  async get(beneficiaryRef: string, token: string): Promise<BeneficiaryFacts | undefined> {
    const metadata = new Metadata();
    metadata.set(TOKEN_HEADER, token);
    try {
      const { beneficiary } = await this.client.call(
        'getBeneficiary',
        { beneficiaryRef },
        { idempotent: true, metadata },
      );
      if (!beneficiary) return undefined;
      return {
        beneficiaryRef: beneficiary.beneficiaryRef,
        ...(beneficiary.name ? { name: beneficiary.name } : {}),
        ...(beneficiary.yearOfBirth ? { yearOfBirth: beneficiary.yearOfBirth } : {}),
        ...(beneficiary.maskedPhotoId ? { maskedPhotoId: beneficiary.maskedPhotoId } : {}),
      };
    } catch (error) {
      // Identity's refusal of the user is ours to record; anything else is a failure.
      if (isVaxGuardError(error) && error.code === 'PERMISSION_DENIED') return undefined;
      throw error;
    }
  }

  close(): void {
    this.client.close();
  }
}

/**
 * Consent grants given in a request body, checked as the authenticator checks header
 * tokens: signature, audience, expiry, revocation, and the grantee's suspension.
 */
export class ConsentGrantVerifier implements GrantVerifier {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly registry: AccessRegistry,
  ) {}

  async verify(token: string): Promise<ConsentGrant> {
    const claims = await this.verifier.verify(token, [AUDIENCE.consent]);
    checkTokenHolder(this.registry, claims);
    if (!claims.consent) {
      throw unauthenticated('the consent grant names no beneficiaries', {
        reason: 'TOKEN_AUDIENCE',
      });
    }
    return {
      grantId: claims.tokenId,
      clientId: claims.clientId,
      granteeKind: claims.consent.grantee.kind,
      granteeId: claims.consent.grantee.id,
      beneficiaryRefs: claims.consent.beneficiaryRefs,
      token,
    };
  }
}
