export { FakeLlmServer, fakeUsage, type FakeLlmOptions, type Protocol, type SeenRequest, type Step } from './server.js';
export { installFakeGeminiCli, type CliCall, type CliStep, type FakeGeminiCli } from './gemini-cli.js';
