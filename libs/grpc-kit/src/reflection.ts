import {
  createFileRegistry,
  fromBinary,
  toBinary,
  type DescFile,
  type FileRegistry,
} from '@bufbuild/protobuf';
import { nestedTypes } from '@bufbuild/protobuf/reflect';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { status, type Server, type ServerDuplexStream } from '@grpc/grpc-js';
import { grpcReflectionV1, grpcReflectionV1alpha } from '@vaxguard/proto';

// v1alpha has the same messages under another package; one implementation answers both.
type ReflectionRequest = grpcReflectionV1.ServerReflectionRequest;
type ReflectionResponse = grpcReflectionV1.ServerReflectionResponse;
type MessageResponse = NonNullable<ReflectionResponse['messageResponse']>;

/** The health service every GrpcServer runs (implemented by grpc-health-check). */
export const HEALTH_SERVICE_NAME = 'grpc.health.v1.Health';

/** Both versions of server reflection: clients (grpcurl releases among them) differ in which they call. */
export const REFLECTION_SERVICE_NAMES = [
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
] as const;

/**
 * No service imports these, yet any error may carry them in `grpc-status-details-bin`
 * (status.ts): a client that has only the address needs them to read the details.
 */
export const STATUS_DETAIL_FILES = ['google/rpc/status.proto', 'google/rpc/error_details.proto'];

/** What one server describes: its services and every file a client needs to use them. */
interface Described {
  /** Full names of the services the server runs, sorted. */
  readonly services: readonly string[];
  /** By file name (`vaxguard/otp/v1/otp.proto`): the files of those services and all their imports. */
  readonly files: ReadonlyMap<string, DescFile>;
  /** By fully-qualified name: every message, field, oneof, enum, enum value, service, method and extension in `files`. */
  readonly symbols: ReadonlyMap<string, DescFile>;
  /** Message types that `files` declare, with the files extending them by field number. */
  readonly extensions: ReadonlyMap<string, ReadonlyMap<number, DescFile>>;
}

/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha) over the FileDescriptorSet
 * that tools/proto/generate.sh embeds: describes exactly the services one server runs,
 * health and reflection included, and answers file requests with the file and all its
 * transitive imports, so that a client with only the address can list, describe and
 * call every method and decode the status details of its errors.
 *
 * (@grpc/reflection could not: it goes through proto-loader's protobufjs, which merges
 * the files of one package, drops their imports and writes relative type names, so
 * clients failed to resolve `google.protobuf.Timestamp`; and it listed every service
 * in the set on every server.)
 */
export class ServerReflection {
  private readonly registry: FileRegistry;
  private readonly serviceNames = new Set<string>([
    HEALTH_SERVICE_NAME,
    ...REFLECTION_SERVICE_NAMES,
  ]);
  private readonly encoded = new Map<DescFile, Buffer>();
  private described: Described | undefined;

  /** `descriptorSet`: a serialized FileDescriptorSet with every file the services use, imports included. */
  constructor(descriptorSet: Uint8Array) {
    this.registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet));
    for (const name of this.serviceNames) this.requireService(name);
    for (const name of STATUS_DETAIL_FILES) {
      if (!this.registry.getFile(name)) throw new Error(`descriptor set lacks ${name}`);
    }
  }

  /** Describes one more service this server runs; fails when the descriptor set lacks it. */
  addService(serviceName: string): void {
    this.requireService(serviceName);
    this.serviceNames.add(serviceName);
    this.described = undefined;
  }

  /** Answers one request of a ServerReflectionInfo stream. */
  answer(request: ReflectionRequest): ReflectionResponse {
    return {
      validHost: request.host,
      originalRequest: request,
      messageResponse: this.respond(request.messageRequest),
    };
  }

  /** Serves grpc.reflection.v1 and v1alpha on `server`. */
  addToServer(server: Server): void {
    const serverReflectionInfo = (
      call: ServerDuplexStream<ReflectionRequest, ReflectionResponse>,
    ): void => {
      call.on('data', (request: ReflectionRequest) => call.write(this.answer(request)));
      call.on('end', () => call.end());
    };
    server.addService(grpcReflectionV1.ServerReflectionService, { serverReflectionInfo });
    server.addService(grpcReflectionV1alpha.ServerReflectionService, { serverReflectionInfo });
  }

  private respond(request: ReflectionRequest['messageRequest']): MessageResponse {
    const described = (this.described ??= describe(this.registry, this.serviceNames));
    switch (request?.$case) {
      case 'listServices':
        return {
          $case: 'listServicesResponse',
          value: { service: described.services.map((name) => ({ name })) },
        };
      case 'fileByFilename':
        return this.fileWithImports(described.files.get(request.value), `file ${request.value}`);
      case 'fileContainingSymbol':
        return this.fileWithImports(
          described.symbols.get(request.value),
          `symbol ${request.value}`,
        );
      case 'fileContainingExtension': {
        const { containingType, extensionNumber } = request.value;
        return this.fileWithImports(
          described.extensions.get(containingType)?.get(extensionNumber),
          `extension ${extensionNumber} of ${containingType}`,
        );
      }
      case 'allExtensionNumbersOfType': {
        const extensions = described.extensions.get(request.value);
        if (!extensions) return notFound(`message type ${request.value}`);
        return {
          $case: 'allExtensionNumbersResponse',
          value: { baseTypeName: request.value, extensionNumber: [...extensions.keys()] },
        };
      }
      case undefined:
        return errorResponse(status.INVALID_ARGUMENT, 'the request sets no message_request');
    }
  }

  /** The file first (clients take the first as the answer), then everything it imports. */
  private fileWithImports(file: DescFile | undefined, what: string): MessageResponse {
    if (!file) return notFound(what);
    return {
      $case: 'fileDescriptorResponse',
      value: { fileDescriptorProto: withImports(file).map((f) => this.encode(f)) },
    };
  }

  private encode(file: DescFile): Buffer {
    let bytes = this.encoded.get(file);
    if (!bytes) {
      bytes = Buffer.from(toBinary(FileDescriptorProtoSchema, file.proto));
      this.encoded.set(file, bytes);
    }
    return bytes;
  }

  private requireService(name: string): void {
    if (!this.registry.getService(name)) {
      throw new Error(
        `service ${name} is not in the descriptor set; run 'npx nx run proto:generate'`,
      );
    }
  }
}

function notFound(what: string): MessageResponse {
  return errorResponse(status.NOT_FOUND, `${what} not found`);
}

function errorResponse(errorCode: status, errorMessage: string): MessageResponse {
  return { $case: 'errorResponse', value: { errorCode, errorMessage } };
}

/** `file` followed by its transitive imports, each once, breadth first. */
function withImports(file: DescFile): DescFile[] {
  const ordered = [file];
  const seen = new Set(ordered);
  for (let i = 0; i < ordered.length; i++) {
    for (const dependency of ordered[i]!.dependencies) {
      if (seen.has(dependency)) continue;
      seen.add(dependency);
      ordered.push(dependency);
    }
  }
  return ordered;
}

function describe(registry: FileRegistry, serviceNames: ReadonlySet<string>): Described {
  const roots = [
    ...[...serviceNames].map((name) => registry.getService(name)?.file),
    ...STATUS_DETAIL_FILES.map((name) => registry.getFile(name)),
  ];
  const files = new Map<string, DescFile>();
  for (const root of roots) {
    if (!root) continue;
    for (const file of withImports(root)) files.set(file.proto.name, file);
  }
  const symbols = new Map<string, DescFile>();
  const extensions = new Map<string, Map<number, DescFile>>();
  for (const file of files.values()) {
    for (const name of declaredNames(file)) symbols.set(name, file);
    for (const type of nestedTypes(file)) {
      if (type.kind === 'message') extensions.set(type.typeName, new Map());
    }
  }
  // Once every message is known: extensions of types outside `files` are left out.
  for (const file of files.values()) {
    for (const type of nestedTypes(file)) {
      if (type.kind === 'extension') {
        extensions.get(type.extendee.typeName)?.set(type.number, file);
      }
    }
  }
  return { services: [...serviceNames].sort(), files, symbols, extensions };
}

/** Every fully-qualified name `file` declares, as clients may ask for them. */
function declaredNames(file: DescFile): string[] {
  const names: string[] = [];
  for (const type of nestedTypes(file)) {
    names.push(type.typeName);
    switch (type.kind) {
      case 'message':
        for (const member of [...type.fields, ...type.oneofs]) {
          names.push(`${type.typeName}.${member.name}`);
        }
        break;
      case 'enum': {
        // Enum values are scoped like their enum's siblings, as in C++.
        const scope = type.typeName.slice(0, type.typeName.lastIndexOf('.') + 1);
        for (const value of type.values) names.push(`${scope}${value.name}`);
        break;
      }
      case 'service':
        for (const method of type.methods) names.push(`${type.typeName}.${method.name}`);
        break;
      case 'extension':
        break;
    }
  }
  return names;
}
