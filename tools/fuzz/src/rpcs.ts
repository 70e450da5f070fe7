// Every RPC of every VaxGuard service, read from the descriptor set the services serve
// over reflection (libs/proto): a new RPC is fuzzed without anyone listing it here.
import { createFileRegistry, fromBinary, type DescMessage } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { descriptorSetBase64 } from '@vaxguard/proto';
import type { PlatformService } from '@vaxguard/testing';

export interface Rpc {
  /** The process that serves it. */
  readonly service: PlatformService;
  /** `Service/Method`, as the counts table names it. */
  readonly name: string;
  /** The gRPC path, `/vaxguard.otp.v1.OtpService/GenerateOtp`. */
  readonly path: string;
  readonly input: DescMessage;
  readonly serverStreaming: boolean;
}

/** The proto package of each service's RPCs. */
const SERVICE_OF_PACKAGE: Readonly<Record<string, PlatformService>> = {
  'vaxguard.otp.v1': 'otp',
  'vaxguard.identity.v1': 'identity',
  'vaxguard.vaccination_record.v1': 'vaccination-record',
  'vaxguard.audit.v1': 'audit',
};

export function platformRpcs(): Rpc[] {
  const registry = createFileRegistry(
    fromBinary(FileDescriptorSetSchema, Buffer.from(descriptorSetBase64, 'base64')),
  );
  const rpcs: Rpc[] = [];
  for (const file of registry.files) {
    const service = SERVICE_OF_PACKAGE[file.proto.package ?? ''];
    if (!service) continue;
    for (const descService of file.services) {
      for (const method of descService.methods) {
        rpcs.push({
          service,
          name: `${descService.name}/${method.name}`,
          path: `/${descService.typeName}/${method.name}`,
          input: method.input,
          serverStreaming: method.methodKind === 'server_streaming',
        });
      }
    }
  }
  return rpcs.sort((a, b) => a.path.localeCompare(b.path));
}
