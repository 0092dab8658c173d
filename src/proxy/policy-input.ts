import type { Classification } from '../dialects/classify.js';
import type { NormalizedRequest } from '../dialects/index.js';
import type { PolicyInput } from '../policy/evaluate.js';

/**
 * What policies see of a call, built the same way by the proxy, the policy tester and the
 * simulator, so a condition means the same thing in all three.
 */
export interface CallView {
  agent: { id: string; name: string; upstreamType: string };
  classification: Classification | undefined;
  normalized: NormalizedRequest | null;
  upstream: { url: string; type: string } | undefined;
  headers: PolicyInput['headers'];
  requestBytes: number;
  user: string | null;
  session: string | null;
}

export function policyInput(view: CallView, findings: PolicyInput['findings']): PolicyInput {
  const n = view.normalized;
  const tools = [...(n?.toolsOffered ?? []), ...(n?.toolsCalled ?? [])];
  const invoked = view.classification?.toolName;
  if (invoked && !tools.includes(invoked)) tools.push(invoked);
  return {
    agentId: view.agent.id,
    agentName: view.agent.name,
    actionType: view.classification?.actionType ?? 'http_request',
    upstreamUrl: view.upstream?.url ?? null,
    provider: view.upstream?.type ?? view.agent.upstreamType,
    model: n?.model ?? null,
    prompt: n?.prompt ?? '',
    headers: view.headers,
    tools,
    findings,
    requestBytes: view.requestBytes,
    user: view.user,
    session: view.session,
  };
}
