/**
 * Viber's JSON, read without losing its 64-bit message tokens: `message_token` is an integer beyond
 * 2^53 (4912661846655238145), which `JSON.parse` would round. The raw text's `"message_token": <digits>`
 * members are turned into strings before parsing, so every token stays exact.
 */

/** A `message_token` member (a key, so after `{` or `,`; never inside a string, where quotes are escaped). */
const TOKEN_MEMBER = /([{,]\s*)"message_token"(\s*:\s*)(-?\d+)(?=\s*[,}])/g;

/** Parses Viber's JSON with every `message_token` as a decimal string. Throws SyntaxError. */
export function parseViberJson(text: string): unknown {
  return JSON.parse(text.replace(TOKEN_MEMBER, '$1"message_token"$2"$3"'));
}
