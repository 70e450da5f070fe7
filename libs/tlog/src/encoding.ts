// Text and byte helpers with no node-only API (no Buffer, no node:crypto), shared by the
// node code and the portable entry point a browser bundles.

/** Standard base64 with padding, refusing anything a lenient decoder would skip or fix. */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) {
    return undefined;
  }
  const bytes = Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
  // Non-zero bits after the last byte would give two spellings of one value.
  return encodeBase64(bytes) === text ? bytes : undefined;
}

/** Standard base64 with padding. */
export function encodeBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** True unless the string holds a lone UTF-16 surrogate, which has no UTF-8 form. */
export function isWellFormed(text: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

/** A 32-bit key ID as the 8 hex digits of a signature line's key name. */
export function hex8(keyId: number): string {
  return keyId.toString(16).padStart(8, '0');
}

/** The big-endian unsigned 32-bit number at the start of the bytes. */
export function readUint32(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
}

/** Byte equality; everything compared with it here is public (hashes, key IDs). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
