// Identity's beneficiaries in bulk, each row as identity's own code makes it: the blind
// indexes of @vaxguard/pii under the platform's keys, the mobile and the identity number
// sealed by identity's vault under its key-encryption key (with the associated data its
// store binds them to), the masks, and the keyed hash of a secret code. Key material
// comes from the platform's secrets through identity's own configuration reader.
import {
  documentBlindIndex,
  maskMobileForDisplay,
  maskPhotoId,
  mobileBlindIndex,
  parseMobile,
  parsePhotoId,
} from '@vaxguard/pii';
import { ConfigKeyProvider } from '../../../services/identity/src/adapters/config-key-provider';
import {
  sealedMobileContext,
  sealedPhotoIdContext,
} from '../../../services/identity/src/adapters/pg-beneficiary-store';
import { EnvelopeVault } from '../../../services/identity/src/adapters/vault';
import { readConfig } from '../../../services/identity/src/config';
import {
  generateSecretCode,
  hashSecretCode,
} from '../../../services/identity/src/domain/identity-rules';
import type { CopyBatch, CopyValue } from './copy';
import type { Population } from './population';

const NAMES = ['Asha Devi', 'Ravi Kumar', 'Meena Iyer', 'Arjun Singh'];

export class IdentitySeeder {
  private readonly vault: EnvelopeVault;
  private readonly config: ReturnType<typeof readConfig>;

  /** `environment`: identity's own, as the platform started it. */
  constructor(
    private readonly population: Population,
    environment: Record<string, string>,
  ) {
    this.config = readConfig(environment);
    this.vault = new EnvelopeVault(ConfigKeyProvider.fromList(this.config.keyEncryptionKeys));
  }

  /** The blind index of beneficiary `n`'s mobile, as OTP and identity compute it. */
  mobileIndex(n: number): string {
    return mobileBlindIndex(this.config.mobileIndexKey, parseMobile(this.population.mobile(n)));
  }

  /** Beneficiaries `from` to `to` - 1, as rows of identity's beneficiaries table. */
  async beneficiaries(from: number, to: number, createdAt: Date): Promise<CopyBatch> {
    const rows: CopyValue[][] = [];
    let mobileIndex = '';
    for (let n = from; n < to; n++) {
      const ref = this.population.ref(n);
      const mobile = parseMobile(this.population.mobile(n));
      // Four beneficiaries share a mobile: its index is computed once for them.
      if (n === from || this.population.slot(n) === 0) mobileIndex = this.mobileIndex(n);
      const photoId = parsePhotoId('AADHAAR', this.population.aadhaar(n));
      rows.push([
        ref,
        mobileIndex,
        await this.vault.seal(Buffer.from(mobile, 'utf8'), sealedMobileContext(ref)),
        maskMobileForDisplay(mobile),
        NAMES[n % NAMES.length] ?? 'Asha Devi',
        n % 2 === 0 ? 'FEMALE' : 'MALE',
        this.population.yearOfBirth(n),
        photoId.kind,
        documentBlindIndex(this.config.documentIndexKey, photoId),
        await this.vault.seal(Buffer.from(photoId.number, 'utf8'), sealedPhotoIdContext(ref)),
        maskPhotoId(photoId),
        hashSecretCode(this.config.secretCodeKey, ref, generateSecretCode()),
        false,
        createdAt,
      ]);
    }
    return {
      table: 'beneficiaries',
      columns: [
        'beneficiary_ref',
        'mobile_index',
        'mobile_sealed',
        'masked_mobile',
        'name',
        'gender',
        'year_of_birth',
        'photo_id_kind',
        'photo_id_index',
        'photo_id_sealed',
        'masked_photo_id',
        'secret_code_hash',
        'canary',
        'created_at',
      ],
      rows,
    };
  }
}
