// The part of npm `smpp` (0.5.1, farhadi/node-smpp; no types of its own) that the SMPP
// sender uses: a session over one TCP connection, PDUs as plain objects, TLV registry.
declare module 'smpp' {
  import type { EventEmitter } from 'node:events';

  export interface Pdu {
    readonly command: string;
    readonly command_status: number;
    readonly sequence_number: number;
    readonly [field: string]: unknown;
    response(options?: Record<string, unknown>): Pdu;
  }

  export interface Session extends EventEmitter {
    /** false when the socket cannot be written: nothing was sent. */
    send(pdu: Pdu, onResponse?: (response: Pdu) => void): boolean;
    bind_transceiver(
      options: Record<string, unknown>,
      onResponse: (response: Pdu) => void,
    ): boolean;
    enquire_link(options: Record<string, unknown>, onResponse: (response: Pdu) => void): boolean;
    unbind(options: Record<string, unknown>, onResponse: (response: Pdu) => void): boolean;
    close(callback?: () => void): void;
    destroy(callback?: () => void): void;
  }

  export const PDU: new (command: string, options: Record<string, unknown>) => Pdu;
  export function connect(options: { host: string; port: number }): Session;
  export function addTLV(tag: string, options: { id: number; type: unknown }): void;
  export const types: { readonly tlv: { readonly string: unknown } };
  export const tlvs: Readonly<Record<string, unknown>>;
  export const errors: Readonly<Record<string, number>>;

  const smpp: {
    PDU: typeof PDU;
    connect: typeof connect;
    addTLV: typeof addTLV;
    types: typeof types;
    tlvs: typeof tlvs;
    errors: typeof errors;
  };
  export default smpp;
}
