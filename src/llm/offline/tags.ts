/**
 * Reading the machine-readable blocks of a prompt: JSON between `<tag>` and `</tag>` lines
 * (the prompt/answer contract). A prompt without its block is a broken prompt, reported with an
 * excerpt like any output the pipeline cannot use.
 */
import { LlmOutputInvalidError } from '../../errors.js';

function excerpt(text: string, max = 300): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** The JSON value between `<tag>` and `</tag>` (each on its own line) of a prompt. */
export function extractTaggedJson(prompt: string, tag: string): unknown {
  const re = new RegExp(`^[ \\t]*<${tag}>[ \\t]*$([\\s\\S]*?)^[ \\t]*</${tag}>[ \\t]*$`, 'm');
  const m = re.exec(prompt);
  if (!m) {
    throw new LlmOutputInvalidError(`offline provider: the prompt has no <${tag}> … </${tag}> block (each tag on its own line)`, excerpt(prompt));
  }
  try {
    return JSON.parse(m[1]!);
  } catch (e) {
    throw new LlmOutputInvalidError(`offline provider: the <${tag}> block of the prompt is not valid JSON: ${(e as Error).message}`, excerpt(m[1]!));
  }
}

/** Like extractTaggedJson, but undefined when the block is absent. */
export function maybeTaggedJson(prompt: string, tag: string): unknown {
  return new RegExp(`^[ \\t]*<${tag}>[ \\t]*$`, 'm').test(prompt) ? extractTaggedJson(prompt, tag) : undefined;
}

/**
 * The first JSON array in free text, scanning brackets with awareness of strings (the original's
 * scanner was not, and broke on a `]` inside a string). Undefined when none parses.
 */
export function findJsonArray(text: string): unknown[] | undefined {
  for (let start = text.indexOf('['); start >= 0; start = text.indexOf('[', start + 1)) {
    let depth = 0;
    let inString = false;
    for (let i = start; i < text.length; i++) {
      const c = text[i]!;
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '[' || c === '{') depth++;
      else if (c === ']' || c === '}') {
        depth--;
        if (depth === 0) {
          try {
            const v = JSON.parse(text.slice(start, i + 1)) as unknown;
            if (Array.isArray(v)) return v;
          } catch {
            // not this one; try the next '['
          }
          break;
        }
      }
    }
  }
  return undefined;
}
