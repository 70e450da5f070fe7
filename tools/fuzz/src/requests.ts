// fast-check arbitraries for the raw bytes of a request to any RPC, built from its input
// message's descriptor: every field kind with its boundaries, strings that are huge, invalid
// UTF-8, made-up mobiles and Aadhaar numbers or values the platform knows (ids, tokens,
// grants), repeated fields long and short; then, for some requests, the frame spoiled: cut
// short, a field sent with the wrong wire type, random bytes, or over the 1 MiB limit.
import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { madeUpAadhaar } from '@vaxguard/testing';
import fc from 'fast-check';
import type { Rpc } from './rpcs';

/** A request's bytes and the personal data planted in them, which no answer may echo. */
export interface Encoded {
  readonly bytes: Uint8Array;
  readonly personal: readonly string[];
}

/** What the platform knows, so that some requests reach past validation. */
export interface KnownValues {
  /** Ids and references that exist (beneficiaries, centres, staff, transactions). */
  readonly ids: readonly string[];
  /** Tokens and consent grants, valid, forged, of the wrong audience. */
  readonly tokens: readonly string[];
}

export type FrameShape =
  'well-formed' | 'truncated' | 'wrong-wire-type' | 'random-bytes' | 'oversize';

/** gRPC servers here refuse messages over 1 MiB (grpc-kit's server). */
export const MESSAGE_SIZE_LIMIT = 1024 * 1024;
const MAX_DEPTH = 3;
const HUGE_STRING_LENGTH = 64 * 1024;
const HUGE_REPEATED_COUNT = 2_000;

/** The boundary numbers every integer field is tried with, as 64-bit two's complement. */
export const BOUNDARY_INTEGERS: readonly bigint[] = [
  0n,
  1n,
  -1n,
  2n ** 31n - 1n,
  2n ** 31n,
  -(2n ** 31n),
  2n ** 32n - 1n,
  2n ** 32n,
  2n ** 53n + 1n,
  2n ** 63n - 1n,
  2n ** 63n,
  -(2n ** 63n),
  2n ** 64n - 1n,
];

const concat = (parts: readonly Encoded[]): Encoded => ({
  bytes: Buffer.concat(parts.map((part) => part.bytes)),
  personal: parts.flatMap((part) => part.personal),
});

const written = (write: (writer: BinaryWriter) => void, personal: readonly string[] = []) => {
  const writer = new BinaryWriter();
  write(writer);
  return { bytes: writer.finish(), personal };
};

const utf8 = (text: string) => Buffer.from(text, 'utf8');

/** A made-up Indian mobile, 10 digits starting 6-9. */
const mobileArb = fc
  .tuple(fc.integer({ min: 6, max: 9 }), fc.integer({ min: 0, max: 999_999_999 }))
  .map(([first, rest]) => `${first}${String(rest).padStart(9, '0')}`);
/** A made-up Aadhaar number (valid checksum), 12 digits. */
const aadhaarArb = fc.integer({ min: 0, max: 999_999 }).map((n) => madeUpAadhaar(n));

/** Bytes that are not UTF-8: lone continuation bytes, overlongs, surrogates, 0xFF. */
const invalidUtf8Arb = fc
  .tuple(
    fc.string({ maxLength: 8 }),
    fc.constantFrom(
      [0xff],
      [0x80],
      [0xc0, 0x80],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xe2, 0x82],
    ),
  )
  .map(([prefix, bad]) => Buffer.concat([utf8(prefix), Buffer.from(bad)]));

/** A string field's payload: the text's bytes and any personal data planted in it. */
function stringPayloadArb(field: DescField, known: KnownValues): fc.Arbitrary<Encoded> {
  const text = (arb: fc.Arbitrary<string>, personal = false) =>
    arb.map((value) => ({ bytes: utf8(value), personal: personal ? [value] : [] }));
  const name = field.name.toLowerCase();
  const hinted: fc.WeightedArbitrary<Encoded>[] = [];
  if (name.includes('mobile')) hinted.push({ arbitrary: text(mobileArb, true), weight: 6 });
  if (name.includes('number')) hinted.push({ arbitrary: text(aadhaarArb, true), weight: 6 });
  if (known.ids.length > 0)
    hinted.push({ arbitrary: text(fc.constantFrom(...known.ids)), weight: 4 });
  if (known.tokens.length > 0)
    hinted.push({
      arbitrary: text(fc.constantFrom(...known.tokens)),
      weight: name.includes('grant') || name.includes('token') ? 8 : 1,
    });
  return fc.oneof(
    { arbitrary: text(fc.string({ maxLength: 24 })), weight: 4 },
    { arbitrary: text(fc.string({ unit: 'grapheme', maxLength: 12 })), weight: 1 },
    { arbitrary: text(fc.constant('')), weight: 2 },
    {
      arbitrary: text(
        mobileArb.map((mobile) => `+91 ${mobile}`),
        true,
      ),
      weight: 1,
    },
    { arbitrary: text(mobileArb, true), weight: 1 },
    { arbitrary: text(aadhaarArb, true), weight: 1 },
    {
      arbitrary: fc
        .constantFrom('a', '9', '\u0000', 'é', '𝄞')
        .map((unit) => ({ bytes: utf8(unit.repeat(HUGE_STRING_LENGTH)), personal: [] })),
      weight: 1,
    },
    { arbitrary: invalidUtf8Arb.map((bytes) => ({ bytes, personal: [] })), weight: 2 },
    ...hinted,
  );
}

const boundaryArb = fc.oneof(
  { arbitrary: fc.constantFrom(...BOUNDARY_INTEGERS), weight: 3 },
  { arbitrary: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }), weight: 1 },
  { arbitrary: fc.bigInt({ min: -1000n, max: 100_000n }), weight: 2 },
);

const asUint64 = (value: bigint) => BigInt.asUintN(64, value);

/** One value of a scalar, written after its tag. */
function scalarArb(
  field: DescField,
  scalar: ScalarType,
  known: KnownValues,
): fc.Arbitrary<{ wire: WireType; payload: Encoded }> {
  const varint = boundaryArb.map((value) => ({
    wire: WireType.Varint,
    payload: written((w) => w.uint64(asUint64(value))),
  }));
  switch (scalar) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return stringPayloadArb(field, known).map((payload) => ({
        wire: WireType.LengthDelimited,
        payload: written((w) => w.bytes(payload.bytes), payload.personal),
      }));
    case ScalarType.DOUBLE:
      return fc.double().map((value) => ({
        wire: WireType.Bit64,
        payload: written((w) => w.double(value)),
      }));
    case ScalarType.FLOAT:
      return fc.double().map((value) => ({
        wire: WireType.Bit32,
        payload: written((w) => w.float(Math.fround(value))),
      }));
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return boundaryArb.map((value) => ({
        wire: WireType.Bit32,
        payload: written((w) => w.fixed32(Number(BigInt.asUintN(32, value)))),
      }));
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return boundaryArb.map((value) => ({
        wire: WireType.Bit64,
        payload: written((w) => w.fixed64(asUint64(value))),
      }));
    default:
      // int32, int64, uint32, uint64, sint32, sint64, bool: one varint of any 64 bits.
      return varint;
  }
}

function enumArb(field: DescField & { enum: { values: readonly { number: number }[] } }) {
  const values = field.enum.values.map((value) => value.number);
  return fc
    .oneof(
      { arbitrary: fc.constantFrom(...values), weight: 4 },
      { arbitrary: fc.constantFrom(-1, 2 ** 31 - 1, -(2 ** 31), 999), weight: 1 },
    )
    .map((value) => ({
      wire: WireType.Varint,
      payload: written((w) => w.int32(value)),
    }));
}

const tagged = (number: number, value: { wire: WireType; payload: Encoded }): Encoded =>
  concat([written((w) => w.tag(number, value.wire)), value.payload]);

const nested = (message: Encoded) => ({
  wire: WireType.LengthDelimited,
  payload: written((w) => w.bytes(message.bytes), message.personal),
});

/** One occurrence of a field's value (a list's element, a map's entry), untagged. */
function elementArb(
  field: DescField,
  known: KnownValues,
  depth: number,
): fc.Arbitrary<{ wire: WireType; payload: Encoded }> {
  switch (field.fieldKind) {
    case 'scalar':
      return scalarArb(field, field.scalar, known);
    case 'enum':
      return enumArb(field);
    case 'message':
      return messageArb(field.message, known, depth + 1).map(nested);
    case 'list':
      if (field.listKind === 'scalar') return scalarArb(field, field.scalar, known);
      if (field.listKind === 'enum') return enumArb(field);
      return messageArb(field.message, known, depth + 1).map(nested);
    case 'map': {
      const key = scalarArb(field, field.mapKey, known).map((value) => tagged(1, value));
      const value =
        field.mapKind === 'message'
          ? messageArb(field.message, known, depth + 1).map((message) => tagged(2, nested(message)))
          : field.mapKind === 'enum'
            ? enumArb(field).map((entry) => tagged(2, entry))
            : scalarArb(field, field.scalar, known).map((entry) => tagged(2, entry));
      return fc.tuple(key, value).map((entry) => nested(concat(entry)));
    }
  }
}

/** A field as it appears in a message: absent, once, or (repeated) a few or very many times. */
function fieldArb(field: DescField, known: KnownValues, depth: number): fc.Arbitrary<Encoded> {
  const element = elementArb(field, known, depth).map((value) => tagged(field.number, value));
  if (field.fieldKind !== 'list' && field.fieldKind !== 'map') {
    return fc
      .option(element, { freq: 4, nil: undefined })
      .map((value) => value ?? { bytes: new Uint8Array(), personal: [] });
  }
  const few = fc.array(element, { maxLength: 4 }).map(concat);
  if (depth > 0) return few;
  return fc.oneof(
    { arbitrary: few, weight: 8 },
    {
      // One small element repeated: a huge repeated field costs one generation.
      arbitrary: element.map((one) =>
        one.bytes.length > 256 ? one : concat(Array<Encoded>(HUGE_REPEATED_COUNT).fill(one)),
      ),
      weight: 1,
    },
  );
}

/** A message's bytes: each field maybe present, in declaration order, sometimes an unknown one after. */
export function messageArb(
  message: DescMessage,
  known: KnownValues,
  depth = 0,
): fc.Arbitrary<Encoded> {
  if (depth > MAX_DEPTH) return fc.constant({ bytes: new Uint8Array(), personal: [] });
  const unknownField = fc
    .option(fc.uint8Array({ maxLength: 16 }), { freq: 8, nil: undefined })
    .map((bytes) =>
      bytes === undefined
        ? { bytes: new Uint8Array(), personal: [] }
        : written((w) => w.tag(9_999, WireType.LengthDelimited).bytes(bytes)),
    );
  return fc
    .tuple(...message.fields.map((field) => fieldArb(field, known, depth)), unknownField)
    .map((parts) => concat(parts));
}

/** A wire type other than the field's own: its tag followed by a payload of that type. */
const WRONG_PAYLOADS: Readonly<Record<number, (w: BinaryWriter) => void>> = {
  [WireType.Varint]: (w) => w.uint64(2n ** 63n),
  [WireType.Bit64]: (w) => w.fixed64(1n),
  [WireType.LengthDelimited]: (w) => w.bytes(new Uint8Array([1, 2, 3])),
  [WireType.Bit32]: (w) => w.fixed32(7),
  // Groups (deprecated) and the two wire types no encoder may send.
  [WireType.StartGroup]: () => undefined,
  [WireType.EndGroup]: () => undefined,
  6: () => undefined,
  7: () => undefined,
};

const wireTypeOf = (field: DescField): WireType => {
  if (field.fieldKind === 'message' || field.fieldKind === 'map') return WireType.LengthDelimited;
  if (field.fieldKind === 'list' && field.listKind === 'message') return WireType.LengthDelimited;
  const scalar = field.fieldKind === 'enum' ? undefined : field.scalar;
  if (scalar === ScalarType.STRING || scalar === ScalarType.BYTES) return WireType.LengthDelimited;
  if (
    scalar === ScalarType.DOUBLE ||
    scalar === ScalarType.FIXED64 ||
    scalar === ScalarType.SFIXED64
  )
    return WireType.Bit64;
  if (
    scalar === ScalarType.FLOAT ||
    scalar === ScalarType.FIXED32 ||
    scalar === ScalarType.SFIXED32
  )
    return WireType.Bit32;
  return WireType.Varint;
};

/** The message's bytes spoiled in one of the ways a broken or hostile client would. */
function framedArb(message: DescMessage, known: KnownValues) {
  const wellFormed = messageArb(message, known);
  const wrongWireType =
    message.fields.length === 0
      ? wellFormed
      : fc
          .tuple(wellFormed, fc.constantFrom(...message.fields), fc.integer({ min: 0, max: 7 }))
          .map(([encoded, field, offset]) => {
            const own = wireTypeOf(field);
            const wire = ((own + 1 + (offset % 7)) % 8) as WireType;
            const write = WRONG_PAYLOADS[wire] ?? (() => undefined);
            const wrong = written((w) => {
              w.tag(field.number, wire);
              write(w);
            });
            return concat([encoded, wrong]);
          });
  const shapes: Record<FrameShape, fc.Arbitrary<Encoded>> = {
    'well-formed': wellFormed,
    truncated: wellFormed
      .filter((encoded) => encoded.bytes.length > 1)
      .chain((encoded) =>
        fc
          .integer({ min: 1, max: encoded.bytes.length - 1 })
          .map((cut) => ({ bytes: encoded.bytes.subarray(0, cut), personal: encoded.personal })),
      ),
    'wrong-wire-type': wrongWireType,
    'random-bytes': fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => ({
      bytes,
      personal: [],
    })),
    oversize: fc
      .integer({ min: 1, max: 64 * 1024 })
      .map((extra) =>
        written((w) =>
          w.tag(9_998, WireType.LengthDelimited).bytes(new Uint8Array(MESSAGE_SIZE_LIMIT + extra)),
        ),
      ),
  };
  return fc.oneof(
    {
      arbitrary: shapes['well-formed'].map((e) => ({ shape: 'well-formed' as const, ...e })),
      weight: 30,
    },
    { arbitrary: shapes.truncated.map((e) => ({ shape: 'truncated' as const, ...e })), weight: 3 },
    {
      arbitrary: shapes['wrong-wire-type'].map((e) => ({
        shape: 'wrong-wire-type' as const,
        ...e,
      })),
      weight: 3,
    },
    {
      arbitrary: shapes['random-bytes'].map((e) => ({ shape: 'random-bytes' as const, ...e })),
      weight: 2,
    },
    { arbitrary: shapes.oversize.map((e) => ({ shape: 'oversize' as const, ...e })), weight: 1 },
  );
}

/** How the request presents itself: the client's credentials, then the user's token. */
/**
 * `valid`: the client the tokens were issued to; `other-client`: another configured one
 * (its own credentials, somebody else's tokens); then a wrong secret, an unknown client, none.
 */
export type ClientCredentials =
  'valid' | 'other-client' | 'wrong-secret' | 'unknown-client' | 'none';

export interface FuzzRequest extends Encoded {
  readonly rpc: Rpc;
  readonly shape: FrameShape;
  readonly client: ClientCredentials;
  /** The name of the token sent in x-vaxguard-token (`none` for none). */
  readonly token: string;
}

/**
 * A request to any of the RPCs. `tokens` names the tokens a request may carry (their
 * values are looked up when it is sent); `known.tokens` are those a field may hold.
 */
export function requestArb(
  rpcs: readonly Rpc[],
  known: KnownValues,
  tokenNames: readonly string[],
): fc.Arbitrary<FuzzRequest> {
  const byRpc = rpcs.map((rpc) =>
    framedArb(rpc.input, known).map((framed) => ({ rpc, ...framed })),
  );
  return fc
    .tuple(
      fc.oneof(...byRpc),
      fc.constantFrom<ClientCredentials>(
        'valid',
        'valid',
        'valid',
        'valid',
        'valid',
        'other-client',
        'wrong-secret',
        'unknown-client',
        'none',
      ),
      fc.constantFrom('none', ...tokenNames),
    )
    .map(([framed, client, token]) => ({ ...framed, client, token }));
}

/**
 * The request's bytes in hex for a report, each planted mobile or Aadhaar number's
 * digits replaced by X (the report names the RPC and shape; the hex is for replaying).
 */
export function redactedHex(request: Encoded, limit = 512): string {
  let text = Buffer.from(request.bytes.subarray(0, limit)).toString('latin1');
  for (const value of request.personal) {
    const digits = value.replace(/\D/g, '');
    text = text.split(digits).join('X'.repeat(digits.length));
  }
  const hex = Buffer.from(text, 'latin1').toString('hex');
  return request.bytes.length > limit ? `${hex}… (${request.bytes.length} bytes)` : hex;
}
