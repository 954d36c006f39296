/**
 * The `gemini` provider: generateContent through @google/genai (Gemini API, API key). Structured
 * output uses responseJsonSchema (v2 takes standard JSON Schema there, arrays at the root included),
 * with propertyOrdering so the model writes `reasoning` before `verdict`.
 */
import type { GenerateContentConfig, GoogleGenAI } from '@google/genai';
import type { CompletionRequest, CompletionResult, LlmProvider } from './types.js';
import { withPropertyOrdering } from './answer-schemas.js';
import { errorForStatus, retryAfterFromGoogleBody, retryAfterFromHeaders, transientConnectionError } from './errors.js';
import { lazyImport, LazyClient, liveTimeoutMs, SdkBacked } from './sdk.js';

export const GEMINI_DEFAULT_MODEL = 'gemini-2.5-flash';

type Sdk = typeof import('@google/genai');
const loadSdk = lazyImport<Sdk>(() => import('@google/genai'));

export class GeminiProvider extends SdkBacked<Sdk, GoogleGenAI> implements LlmProvider {
  readonly name = 'gemini';
  protected readonly sdk = new LazyClient<Sdk, GoogleGenAI>(
    loadSdk,
    (m) =>
      new m.GoogleGenAI({
        apiKey: this.settings.apiKey,
        // GOOGLE_GENAI_USE_VERTEXAI in the environment must not silently switch backends.
        vertexai: false,
        httpOptions: {
          ...(this.settings.baseUrl ? { baseUrl: this.settings.baseUrl } : {}),
          timeout: liveTimeoutMs(this.settings),
          // One attempt: retries are the queue's job.
          retryOptions: { attempts: 1 },
        },
      }),
  );

  complete(req: CompletionRequest): Promise<CompletionResult> {
    // ApiError keeps the status and body but drops headers: a per-call fetch keeps retry-after.
    let retryAfterHeaderMs: number | undefined;
    const fetchKeepingRetryAfter: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (res.status === 429) retryAfterHeaderMs = retryAfterFromHeaders(res.headers);
      return res;
    };
    return this.underDeadline(
      this.name,
      req,
      async (client, deadline, started) => {
        const temperature = req.temperature ?? this.settings.temperature;
        const maxTokens = req.maxOutputTokens ?? this.settings.maxOutputTokens;
        const config: GenerateContentConfig = {
          abortSignal: deadline.signal,
          httpOptions: { fetch: fetchKeepingRetryAfter },
          ...(req.system ? { systemInstruction: req.system } : {}),
          ...(temperature !== undefined ? { temperature } : {}),
          ...(maxTokens !== undefined ? { maxOutputTokens: maxTokens } : {}),
          ...(req.jsonSchema ? { responseMimeType: 'application/json', responseJsonSchema: withPropertyOrdering(req.jsonSchema.schema) } : {}),
        };
        const res = await client.models.generateContent({
          model: this.model,
          contents: [{ role: 'user', parts: [{ text: req.prompt }] }],
          config,
        });
        const candidate = res.candidates?.[0];
        // Read the parts ourselves: the SDK's `text` getter console.warns on non-text parts.
        const text = (candidate?.content?.parts ?? [])
          .filter((p) => typeof p.text === 'string' && !p.thought)
          .map((p) => p.text)
          .join('');
        const u = res.usageMetadata;
        return {
          text,
          usage: {
            inputTokens: u?.promptTokenCount ?? 0,
            // Thinking tokens are billed as output.
            outputTokens: (u?.candidatesTokenCount ?? 0) + (u?.thoughtsTokenCount ?? 0),
            // Implicit and explicit context caching: part of promptTokenCount, billed at the cached rate.
            ...(u?.cachedContentTokenCount ? { cachedInputTokens: u.cachedContentTokenCount } : {}),
          },
          model: res.modelVersion || this.model,
          latencyMs: Math.round(performance.now() - started),
          cached: false,
          ...(candidate?.finishReason === 'MAX_TOKENS' ? { truncated: true } : {}),
        };
      },
      (e, mod) => mapGeminiError(this.name, e, mod, retryAfterHeaderMs),
    );
  }
}

export function mapGeminiError(provider: string, e: unknown, mod: Sdk | undefined, retryAfterHeaderMs?: number): Error {
  if (mod && e instanceof mod.ApiError) {
    return errorForStatus(provider, e.status, e.message, retryAfterHeaderMs ?? retryAfterFromGoogleBody(e.message));
  }
  // Node's fetch reports refused/reset connections as TypeError('fetch failed') with a cause.
  if (e instanceof TypeError && /fetch failed|network|socket/i.test(e.message)) return transientConnectionError(provider, e);
  return e instanceof Error ? e : new Error(String(e));
}
