import type { PhotoId } from './documents';
import type { Mobile } from './mobile';

/**
 * The masked forms shown to people: enough of a number for its owner (or a vaccinator
 * holding the document) to recognise it, never enough to use or look it up. No masked
 * form is recognised as raw data by the redactor.
 */

/** Characters left visible at the end of a masked number. */
export const VISIBLE_TAIL = 4;

/**
 * Aadhaar as UIDAI's masked Aadhaar shows it, `XXXX XXXX 1234`; any other document with
 * all but its last 4 characters replaced by `X` (`XXXXXX234F` for a PAN).
 */
export function maskPhotoId(photoId: PhotoId): string {
  const tail = photoId.number.slice(-VISIBLE_TAIL);
  if (photoId.kind === 'AADHAAR') return `XXXX XXXX ${tail}`;
  return 'X'.repeat(photoId.number.length - VISIBLE_TAIL) + tail;
}

/**
 * A mobile as the identity API shows it to its owner, `******1234`. Distinct from
 * `maskMobile` (`XXXXXX1234`), the form of the OTP service's development SMS inbox.
 */
export function maskMobileForDisplay(mobile: Mobile): string {
  return '*'.repeat(mobile.length - VISIBLE_TAIL) + mobile.slice(-VISIBLE_TAIL);
}
