import { Metadata } from '@grpc/grpc-js';
import { checkTokenHolder, type AccessRegistry } from '@vaxguard/auth';
import { isVaxGuardError, unauthenticated } from '@vaxguard/errors';
import type { ServiceClient } from '@vaxguard/grpc-kit';
import { type identityV1 } from '@vaxguard/proto';
import { AUDIENCE, TOKEN_HEADER, type TokenVerifier } from '@vaxguard/tokens';
import type { BeneficiaryDirectory, BeneficiaryFacts, GrantVerifier } from '../domain/model';
import type { ConsentGrant } from '../domain/record-rules';

/**
 * Identity's GetBeneficiary, called with this service's own credentials and the user's
 * token (citizen token or consent grant) relayed in x-vaxguard-token: identity decides
 * what the user may see, and records the read. Needs the token:relay scope at identity.
 *
 * RecordDose does not call it on its way (issue 17). What a dose needs of identity is
 * small and settled: that the beneficiary exists, which the consent grant already says
 * (identity named the beneficiaries when it had the grant signed, and the grant is
 * verified here, once per dose), and the year of birth, which identity never changes
 * once registered. So this service keeps those facts in its own database
 * (beneficiary_facts), read in the same statement as the rest of a dose's reads: they
 * are kept when FindForVaccination reads the beneficiary here, as a vaccinator does
 * before the dose, and for a beneficiary not seen yet (a registration a moment old, a
 * client that skipped the look-up) RecordDose asks this peer once, keeps the answer,
 * and records. Facts older than BENEFICIARY_FACTS_MAX_AGE_MS are asked for again.
 * Not chosen: a Kafka projection of beneficiary.registered, whose payload would have
 * to carry the year of birth, and every event reaches the audit log and its outside
 * readers, so a person's year of birth would be published beside their reference for
 * good; nor the year of birth in the consent grant, a token the grantee's device holds
 * and which the OTP service, identity and the token library would all change for. A
 * lock or suspension needs no fact from here: staff and client suspensions reach this
 * service through the access registry, enforced on every call and on the grant.
 */
export class IdentityPeer implements BeneficiaryDirectory {
  constructor(private readonly client: ServiceClient<typeof identityV1.IdentityServiceService>) {}

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
