import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockServer } from './server.js';

let mock: MockServer;

beforeAll(async () => {
  mock = await startMockUpstream({ port: 0 });
});
afterAll(async () => {
  await mock.close();
});

function rpc(body: unknown, accept = 'application/json, text/event-stream'): Promise<Response> {
  return fetch(`${mock.url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('MCP over streamable HTTP', () => {
  it('works with the official SDK client: connect, listTools, callTool', async () => {
    const client = new Client({ name: 'mock-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${mock.url}/mcp`));
    await client.connect(transport);
    try {
      expect(client.getServerVersion()?.name).toBe('renlayer-mock');
      expect(transport.sessionId).toBeTruthy();
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(['echo', 'add']);
      expect(tools[1]!.inputSchema.required).toEqual(['a', 'b']);

      const echoed = await client.callTool({ name: 'echo', arguments: { text: 'hello mcp' } });
      expect(echoed.content).toEqual([{ type: 'text', text: 'hello mcp' }]);
      const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
      expect(sum.content).toEqual([{ type: 'text', text: '42' }]);
      await expect(client.callTool({ name: 'nope', arguments: {} })).rejects.toMatchObject({ code: -32602 });
      await client.ping();
      await transport.terminateSession();
    } finally {
      await client.close();
    }
  });

  it('echoes a supported protocol version and sets Mcp-Session-Id on initialize', async () => {
    const res = await rpc({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    });
    expect(res.headers.get('mcp-session-id')).toBeTruthy();
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as { result: { protocolVersion: string; capabilities: unknown } };
    expect(body.result.protocolVersion).toBe('2025-03-26');
    expect(body.result.capabilities).toEqual({ tools: { listChanged: false } });
  });

  it('answers notifications with 202 and no body', async () => {
    const res = await rpc({ jsonrpc: '2.0', method: 'notifications/initialized' });
    expect(res.status).toBe(202);
    expect(await res.text()).toBe('');
  });

  it('answers a batch with an array, skipping notifications', async () => {
    const res = await rpc([
      { jsonrpc: '2.0', id: 'a', method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'x' } },
      { jsonrpc: '2.0', id: 'b', method: 'nope/nope' },
    ]);
    const body = (await res.json()) as Array<{ id: string; result?: unknown; error?: { code: number } }>;
    expect(body).toHaveLength(2);
    expect(body[0]).toEqual({ jsonrpc: '2.0', id: 'a', result: {} });
    expect(body[1]!.id).toBe('b');
    expect(body[1]!.error!.code).toBe(-32601);
  });

  it('answers as an SSE message event when the client only accepts event streams', async () => {
    const res = await rpc({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 } } }, 'text/event-stream');
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await res.text();
    const m = /^event: message\ndata: (.+)$/m.exec(text);
    expect(m).not.toBeNull();
    expect(JSON.parse(m![1]!)).toEqual({ jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: '3' }], isError: false } });
  });

  it('returns a JSON-RPC parse error for bad JSON, 405 on GET and 200 on DELETE', async () => {
    const bad = await rpc('{oops');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: number } }).error.code).toBe(-32700);
    const get = await fetch(`${mock.url}/mcp`, { headers: { accept: 'text/event-stream' } });
    expect(get.status).toBe(405);
    await get.body?.cancel();
    const del = await fetch(`${mock.url}/mcp`, { method: 'DELETE' });
    expect(del.status).toBe(200);
  });
});
