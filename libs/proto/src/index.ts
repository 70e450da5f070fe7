// The generated protobuf codecs and grpc-js service definitions, one namespace per
// proto package so that ts-proto's per-file helper types never collide.
export * as eventsV1 from './gen/vaxguard/events/v1/envelope';
export * as otpV1 from './gen/vaxguard/otp/v1/otp';
export * as otpEventsV1 from './gen/vaxguard/otp/v1/events';
export * as identityV1 from './gen/vaxguard/identity/v1/identity';
export * as identityEventsV1 from './gen/vaxguard/identity/v1/events';
export * as identityRegistryV1 from './gen/vaxguard/identity/v1/registry';
export * as identityStaffV1 from './gen/vaxguard/identity/v1/staff';
export * as vaccinationRecordV1 from './gen/vaxguard/vaccination_record/v1/vaccination_record';
export * as vaccinationRecordEventsV1 from './gen/vaxguard/vaccination_record/v1/events';
export * as auditV1 from './gen/vaxguard/audit/v1/audit';
export * as googleRpc from './gen/google/rpc/status';
export * as googleRpcDetails from './gen/google/rpc/error_details';
// grpc.health.v1 and server reflection (v1 and the older v1alpha that some clients
// still call), vendored from grpc-proto so that reflection can describe them too.
export * as grpcHealthV1 from './gen/grpc/health/v1/health';
export * as grpcReflectionV1 from './gen/grpc/reflection/v1/reflection';
export * as grpcReflectionV1alpha from './gen/grpc/reflection/v1alpha/reflection';
export { Any } from './gen/google/protobuf/any';
export { Duration } from './gen/google/protobuf/duration';
export { descriptorSetBase64 } from './gen/descriptor-set';
