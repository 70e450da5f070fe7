import { createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import { credentials, Server, ServerCredentials, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { descriptorSetBase64, grpcReflectionV1, grpcReflectionV1alpha } from '@vaxguard/proto';
import { ServerReflection } from './reflection';

type Request = grpcReflectionV1.ServerReflectionRequest;
type MessageRequest = NonNullable<Request['messageRequest']>;

const OTP_SERVICE = 'vaxguard.otp.v1.OtpService';
const descriptorSet = Buffer.from(descriptorSetBase64, 'base64');

function otpServerReflection(): ServerReflection {
  const reflection = new ServerReflection(descriptorSet);
  reflection.addService(OTP_SERVICE);
  return reflection;
}

const ask = (reflection: ServerReflection, messageRequest: MessageRequest) =>
  reflection.answer({ host: '', messageRequest }).messageResponse;

/** The files of a file_descriptor_response, decoded; fails on any other answer. */
function filesOf(answer: ReturnType<typeof ask>): FileDescriptorProto[] {
  if (answer?.$case !== 'fileDescriptorResponse') {
    throw new Error(`expected files, got ${JSON.stringify(answer)}`);
  }
  return answer.value.fileDescriptorProto.map((bytes) =>
    fromBinary(FileDescriptorProtoSchema, bytes),
  );
}

const errorCodeOf = (answer: ReturnType<typeof ask>) =>
  answer?.$case === 'errorResponse' ? answer.value.errorCode : undefined;

/** What a client does with the answer: resolve the first file's imports by name among the rest. */
function registryOf(files: FileDescriptorProto[]) {
  const [answer] = files;
  if (!answer) throw new Error('no files');
  const byName = new Map(files.map((file) => [file.name, file]));
  return createFileRegistry(answer, (name) => byName.get(name));
}

describe('ServerReflection', () => {
  it('lists exactly the services the server runs, health and both reflection versions', () => {
    expect(ask(otpServerReflection(), { $case: 'listServices', value: '*' })).toEqual({
      $case: 'listServicesResponse',
      value: {
        service: [
          { name: 'grpc.health.v1.Health' },
          { name: 'grpc.reflection.v1.ServerReflection' },
          { name: 'grpc.reflection.v1alpha.ServerReflection' },
          { name: OTP_SERVICE },
        ],
      },
    });
  });

  it('answers a service with its file first, then every import, each once', () => {
    const files = filesOf(
      ask(otpServerReflection(), { $case: 'fileContainingSymbol', value: OTP_SERVICE }),
    );
    expect(files.map((file) => file.name)).toEqual([
      'vaxguard/otp/v1/otp.proto',
      'google/protobuf/timestamp.proto',
      'vaxguard/identity/v1/staff.proto',
    ]);
    const registry = registryOf(files);
    expect(registry.getMessage('vaxguard.otp.v1.GenerateOtpResponse')?.field['expiresAt']).toEqual(
      expect.objectContaining({ message: registry.getMessage('google.protobuf.Timestamp') }),
    );
  });

  it.each([
    ['google.rpc.ErrorInfo', 'google.protobuf.Duration'],
    ['google.rpc.RetryInfo', 'google.protobuf.Duration'],
    ['google.rpc.Status', 'google.protobuf.Any'],
  ])(
    'describes the status detail %s, which no service imports, with its imports',
    (symbol, imported) => {
      const registry = registryOf(
        filesOf(ask(otpServerReflection(), { $case: 'fileContainingSymbol', value: symbol })),
      );
      expect(registry.getMessage(symbol)).toBeDefined();
      expect(registry.getMessage(imported)).toBeDefined();
    },
  );

  it.each([
    'vaxguard.otp.v1.OtpService.GenerateOtp',
    'vaxguard.otp.v1.GenerateOtpResponse',
    'vaxguard.otp.v1.GenerateOtpResponse.expires_at',
    'vaxguard.otp.v1.OtpPurpose',
    'vaxguard.otp.v1.OTP_PURPOSE_CITIZEN_LOGIN',
  ])('finds the file declaring %s', (symbol) => {
    const [file] = filesOf(
      ask(otpServerReflection(), { $case: 'fileContainingSymbol', value: symbol }),
    );
    expect(file?.name).toBe('vaxguard/otp/v1/otp.proto');
  });

  it.each([
    ['grpc.health.v1.Health', 'grpc/health/v1/health.proto'],
    ['grpc.reflection.v1.ServerReflection', 'grpc/reflection/v1/reflection.proto'],
    ['grpc.reflection.v1alpha.ServerReflection', 'grpc/reflection/v1alpha/reflection.proto'],
  ])('describes %s, which every server runs', (symbol, fileName) => {
    const reflection = new ServerReflection(descriptorSet);
    const [bySymbol] = filesOf(ask(reflection, { $case: 'fileContainingSymbol', value: symbol }));
    expect(bySymbol?.name).toBe(fileName);
    const [byName] = filesOf(ask(reflection, { $case: 'fileByFilename', value: fileName }));
    expect(byName?.service.map((service) => service.name)).toEqual([symbol.split('.').pop()]);
  });

  it('answers NOT_FOUND for what this server does not serve or nobody declares', () => {
    const reflection = otpServerReflection();
    for (const messageRequest of [
      { $case: 'fileContainingSymbol', value: 'vaxguard.identity.v1.IdentityService' },
      { $case: 'fileContainingSymbol', value: 'vaxguard.otp.v1.NoSuchMessage' },
      { $case: 'fileByFilename', value: 'vaxguard/identity/v1/identity.proto' },
      { $case: 'fileByFilename', value: 'no/such/file.proto' },
      {
        $case: 'fileContainingExtension',
        value: { containingType: 'vaxguard.otp.v1.GenerateOtpRequest', extensionNumber: 100 },
      },
      { $case: 'allExtensionNumbersOfType', value: 'vaxguard.otp.v1.NoSuchMessage' },
    ] satisfies MessageRequest[]) {
      expect(errorCodeOf(ask(reflection, messageRequest)), JSON.stringify(messageRequest)).toBe(
        status.NOT_FOUND,
      );
    }
  });

  it('reports no extension numbers for a message nobody extends', () => {
    expect(
      ask(otpServerReflection(), {
        $case: 'allExtensionNumbersOfType',
        value: 'vaxguard.otp.v1.GenerateOtpRequest',
      }),
    ).toEqual({
      $case: 'allExtensionNumbersResponse',
      value: { baseTypeName: 'vaxguard.otp.v1.GenerateOtpRequest', extensionNumber: [] },
    });
  });

  it('echoes the host and the request, and refuses a request that asks nothing', () => {
    const request: Request = { host: 'otp.example:443', messageRequest: undefined };
    const answer = otpServerReflection().answer(request);
    expect(answer).toMatchObject({ validHost: 'otp.example:443', originalRequest: request });
    expect(errorCodeOf(answer.messageResponse)).toBe(status.INVALID_ARGUMENT);
  });

  it('refuses at start-up a service the descriptor set does not describe', () => {
    expect(() => new ServerReflection(descriptorSet).addService('vaxguard.otp.v1.Nope')).toThrow(
      /vaxguard\.otp\.v1\.Nope is not in the descriptor set/,
    );
  });

  it('serves v1 and v1alpha over a socket', async () => {
    const server = new Server();
    otpServerReflection().addToServer(server);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    try {
      for (const Client of [
        grpcReflectionV1.ServerReflectionClient,
        grpcReflectionV1alpha.ServerReflectionClient,
      ]) {
        const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
        const stream = client.serverReflectionInfo();
        const answered = new Promise<grpcReflectionV1.ServerReflectionResponse>(
          (resolve, reject) => {
            stream.once('data', resolve);
            stream.once('error', reject);
          },
        );
        stream.write({ host: '', messageRequest: { $case: 'listServices', value: '' } });
        const { messageResponse } = await answered;
        stream.end();
        client.close();
        expect(
          messageResponse?.$case === 'listServicesResponse' &&
            messageResponse.value.service.map((service) => service.name),
        ).toContain(OTP_SERVICE);
      }
    } finally {
      server.forceShutdown();
    }
  });
});
