// The generated protobuf codecs and grpc-js service definitions, one namespace per
// proto package so that ts-proto's per-file helper types never collide.
export * as eventsV1 from './gen/vaxguard/events/v1/envelope';
export * as otpV1 from './gen/vaxguard/otp/v1/otp';
export * as otpEventsV1 from './gen/vaxguard/otp/v1/events';
export * as identityV1 from './gen/vaxguard/identity/v1/identity';
export * as vaccinationRecordV1 from './gen/vaxguard/vaccination_record/v1/vaccination_record';
export * as auditV1 from './gen/vaxguard/audit/v1/audit';
export * as googleRpc from './gen/google/rpc/status';
export * as googleRpcDetails from './gen/google/rpc/error_details';
export { Any } from './gen/google/protobuf/any';
export { Duration } from './gen/google/protobuf/duration';
export { descriptorSetBase64 } from './gen/descriptor-set';
