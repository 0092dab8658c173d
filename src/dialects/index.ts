/** The dialects module's public surface: pure functions over the wire formats the proxy speaks. */
export type { ApiKind, NormalizedRequest, TextPart, Usage } from './types.js';
export { apiKind, isJsonRpcBody } from './kind.js';
export { normalizeRequest } from './normalize.js';
export { usageFromBody } from './usage.js';
export { SseParser, serializeEvent, type SseEvent } from './sse.js';
export { interpretEvent, type StreamSignal, type TextDelta } from './stream.js';
export { requestStreamUsage, stripInjectedUsage } from './openai-usage.js';
export { responseTexts } from './response.js';
