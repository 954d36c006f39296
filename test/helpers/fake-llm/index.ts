export { FakeLlmServer, fakeUsage, liveExchange, type FakeLlmOptions, type Protocol, type SeenRequest, type Step } from './server.js';
export { installFakeGeminiCli, type CliCall, type CliStep, type FakeGeminiCli } from './gemini-cli.js';
export { FakeBatchServer, anthropicCacheMinimum, type BatchPlan, type BatchProtocol, type FakeBatchOptions, type ItemFate } from './batch-server.js';
