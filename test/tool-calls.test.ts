/** The tool-call parser and prompt rendering, without a model: streaming in any split equals parsing at once. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { templateMessages, ToolCallParser, type ToolEvent } from "../src/api/openai/tool-calls.js";

const NAMES = new Set(["get_weather", "search"]);

/** Feeds text in pieces and folds the events into what a client reassembles from the stream. */
function run(pieces: string[], maxCalls = Infinity) {
  const parser = new ToolCallParser(NAMES, maxCalls);
  const events: ToolEvent[] = [];
  for (const p of pieces) events.push(...parser.push(p));
  events.push(...parser.end());
  let content = "";
  const calls: { id: string; name: string; arguments: string }[] = [];
  for (const e of events) {
    if (e.kind === "content") content += e.text;
    else if (e.kind === "call") calls[e.index] = { id: e.id, name: e.name, arguments: "" };
    else calls[e.index]!.arguments += e.text;
  }
  return { content, calls, parser, events };
}

function splits(text: string): string[][] {
  const out: string[][] = [[text], Array.from(text)];
  for (let i = 1; i < text.length; i++) out.push([text.slice(0, i), text.slice(i)]);
  return out;
}

const strip = (calls: { id: string; name: string; arguments: string }[]) => calls.map(({ name, arguments: a }) => ({ name, arguments: a }));

describe("ToolCallParser", () => {
  it("reassembles the same content and calls however the text is split", () => {
    const text = 'Let me look.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris}", "days": 2}}\n</tool_call>\n<tool_call>\n{"name": "search", "arguments": {}}\n</tool_call>';
    const whole = run([text]);
    assert.equal(whole.content, "Let me look.");
    assert.deepEqual(strip(whole.calls), [
      { name: "get_weather", arguments: '{"city": "Paris}", "days": 2}' },
      { name: "search", arguments: "{}" },
    ]);
    assert.deepEqual(whole.parser.calls.map((c) => c.function), strip(whole.calls));
    for (const pieces of splits(text)) {
      const r = run(pieces);
      assert.equal(r.content, whole.content, JSON.stringify(pieces));
      assert.deepEqual(strip(r.calls), strip(whole.calls), JSON.stringify(pieces));
      assert.deepEqual(r.calls.map((c) => c.id), r.parser.calls.map((c) => c.id));
    }
  });

  it("streams arguments as they are written, before the call is complete", () => {
    const parser = new ToolCallParser(NAMES, Infinity);
    const first = parser.push('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Par');
    assert.deepEqual(first.map((e) => e.kind), ["call", "arguments"]);
    assert.equal((first[1] as { text: string }).text, '{"city": "Par');
  });

  it("keeps text that only looks like a call as content: unknown tools, bad JSON, no block at all", () => {
    for (const text of [
      'Hi <tool_call>{"name": "nope", "arguments": {}}</tool_call>',
      "Hi <tool_call>{not json}</tool_call>",
      "Hi <tool_ca",
      "plain text, with a < and a </tool_call> in it",
    ]) {
      for (const pieces of splits(text)) {
        const r = run(pieces);
        assert.equal(r.content, text, JSON.stringify(pieces));
        assert.equal(r.calls.length, 0);
      }
    }
  });

  it("accepts arguments before the name, `parameters`, and arguments given as JSON text", () => {
    for (const body of ['{"arguments": {"q": 1}, "name": "search"}', '{"name": "search", "parameters": {"q": 1}}', '{"name": "search", "arguments": "{\\"q\\": 1}"}']) {
      const r = run([`<tool_call>${body}</tool_call>`]);
      assert.equal(r.calls.length, 1, body);
      assert.deepEqual(JSON.parse(r.calls[0]!.arguments), { q: 1 });
    }
  });

  it("parallel_tool_calls false: calls after the first are dropped", () => {
    const r = run(['<tool_call>{"name": "search", "arguments": {}}</tool_call>\n<tool_call>{"name": "get_weather", "arguments": {}}</tool_call>'], 1);
    assert.deepEqual(strip(r.calls), [{ name: "search", arguments: "{}" }]);
    assert.equal(r.content, "");
  });

  it("a call cut off by the end of generation is reported as truncated", () => {
    const r = run(['<tool_call>{"name": "search", "arguments": {"q": "abc']);
    assert.equal(r.parser.truncated, true);
    assert.equal(r.calls[0]!.arguments, '{"q": "abc');
  });

  it("without calls, the content is the text exactly, whitespace included", () => {
    assert.equal(run(["  hello \n", " world  "]).content, "  hello \n world  ");
    assert.equal(run(["   "]).content, "   ");
  });
});

describe("templateMessages", () => {
  const conversation = [
    { role: "user" as const, content: "Weather in Paris?" },
    { role: "assistant" as const, content: null, tool_calls: [{ id: "call_1", type: "function" as const, function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
    { role: "tool" as const, tool_call_id: "call_1", content: "18C" },
    { role: "tool" as const, tool_call_id: "call_2", content: "sunny" },
  ];
  const tools = [{ type: "function" as const, function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }];

  it("writes calls and results as text, with a tools system prompt, for templates that do not know tools", () => {
    const out = templateMessages(conversation, { tools, viaTemplate: false });
    assert.equal(out[0]!.role, "system");
    assert.match(out[0]!.content, /<tools>\n\{"type":"function","function":\{"name":"get_weather"/);
    assert.equal(out[2]!.content, '<tool_call>\n{"name":"get_weather","arguments":{"city":"Paris"}}\n</tool_call>');
    assert.deepEqual(out[3], { role: "user", content: "<tool_response>\n18C\n</tool_response>\n<tool_response>\nsunny\n</tool_response>" });
    assert.equal(out.length, 4);
  });

  it("passes calls (arguments as objects) and tool messages through to templates that know tools", () => {
    const out = templateMessages(conversation, { tools, viaTemplate: true });
    assert.equal(out.length, 4);
    assert.deepEqual(out[1]!.tool_calls, [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: { city: "Paris" } } }]);
    assert.deepEqual(out[2], { role: "tool", content: "18C", tool_call_id: "call_1" });
  });
});
