/**
 * Source code leaving the organisation: fenced code blocks, and runs of lines dense with
 * language keywords and punctuation. A heuristic, hence LOW by default (recorded, not blocked).
 */
import type { Detector } from '../types.js';

/** Fence tags of programming languages: a block so labelled is code. */
const CODE_LANGS = new Set([
  'python', 'py', 'javascript', 'js', 'jsx', 'typescript', 'ts', 'tsx', 'java', 'kotlin', 'kt',
  'scala', 'go', 'golang', 'rust', 'rs', 'c', 'h', 'cpp', 'c++', 'cc', 'hpp', 'cs', 'csharp',
  'c#', 'fsharp', 'swift', 'objc', 'objective-c', 'ruby', 'rb', 'php', 'perl', 'pl', 'lua', 'r',
  'julia', 'dart', 'elixir', 'ex', 'erlang', 'haskell', 'hs', 'clojure', 'sql', 'plsql', 'tsql',
  'bash', 'sh', 'shell', 'zsh', 'powershell', 'ps1', 'bat', 'dockerfile', 'makefile', 'groovy',
  'terraform', 'hcl', 'solidity', 'sol', 'vb', 'vba', 'matlab', 'asm', 'nasm', 'zig', 'nim',
  'ocaml', 'vue', 'svelte', 'graphql', 'proto', 'protobuf',
]);
/** Fence tags of prose and data rather than source: logs, text, configuration. */
const NON_CODE_TAGS = new Set([
  'text', 'txt', 'plain', 'plaintext', 'markdown', 'md', 'log', 'logs', 'output', 'csv', 'tsv',
  'json', 'jsonl', 'yaml', 'yml', 'xml', 'toml', 'ini', 'diff', 'mermaid', 'latex', 'tex',
]);

/** Words that begin statements in common languages (case-sensitive on purpose: prose capitalises). */
const CODE_KEYWORDS = /\b(?:def|class|import|from|return|elif|else|while|function|const|let|var|public|private|protected|static|void|package|func|fn|impl|struct|interface|enum|try|catch|except|finally|async|await|export|lambda|yield|switch|case|break|continue|new|null|nil|None|true|false|self|this|SELECT|FROM|WHERE|JOIN|INSERT|UPDATE|DELETE|CREATE|ALTER|VALUES|ORDER BY|GROUP BY)\b|#include|#define|=>|->|::|\+\+|&&|\|\|/g;

/**
 * Code density: distinct keywords and the share of structural punctuation among the non-blank
 * characters. Prose has neither; logs and lists have punctuation but no keywords.
 */
export function codeDensity(text: string): { keywords: number; symbols: number } {
  const keywords = new Set(text.match(CODE_KEYWORDS) ?? []).size;
  const nonBlank = text.replace(/\s/g, '').length || 1;
  const symbols = (text.match(/[{}()[\];=<>]/g) ?? []).length / nonBlank;
  return { keywords, symbols };
}

function looksLikeCode(text: string): boolean {
  const { keywords, symbols } = codeDensity(text);
  return (keywords >= 2 && symbols >= 0.04) || symbols >= 0.12;
}

const fenced: Detector = {
  class: 'code.source',
  family: 'code',
  severity: 'LOW',
  variant: 'fenced',
  description: 'Fenced code block (```lang … ```) whose tag names a programming language or whose body reads as code',
  // The body is anything up to the closing fence; it cannot contain three backticks in a row.
  pattern: '```[A-Za-z0-9_+#.-]{0,20}[ \\t]*\\r?\\n(?:[^`]|`[^`]|``[^`])+```',
  // The opening fence: the body's "anything but three backticks" doubles every state of the Set.
  prefilter: '```[A-Za-z0-9_+#.-]{0,20}[ \\t]*\\r?\\n',
  keywords: ['```'],
  maxLength: 20_000,
  confidence: (value) => {
    const tag = (/^```([A-Za-z0-9_+#.-]*)/.exec(value)?.[1] ?? '').toLowerCase();
    if (CODE_LANGS.has(tag)) return 0.9;
    if (NON_CODE_TAGS.has(tag)) return 0.2;
    return looksLikeCode(value.slice(3 + tag.length, -3)) ? 0.7 : 0.2;
  },
  examples: [
    {
      text: 'Can you make this faster?\n```python\ndef total(items):\n    return sum(i.price for i in items)\n```\nThanks!',
      match: '```python\ndef total(items):\n    return sum(i.price for i in items)\n```',
    },
    {
      text: 'Our server:\n```\nconst app = express();\napp.listen(3000);\n```',
      match: '```\nconst app = express();\napp.listen(3000);\n```',
    },
    {
      text: '```go\nfunc main() {\n\tfmt.Println(`hello`)\n}\n``` is what I have',
      match: '```go\nfunc main() {\n\tfmt.Println(`hello`)\n}\n```',
    },
  ],
  negatives: [
    '```text\nHello team, the meeting moved to 3pm.\n```',
    'Use ``` to open a fence and ``` to close it.',
    '```json\n{"a": 1, "b": [2, 3]}\n```',
    '```\nDear all, thanks for the great week and see you on Monday.\n```',
  ],
};

// One line of code: it starts with a statement keyword, ends with ; { or }, or is indented and
// ends with ')', ']' or ':' (a call, a list or a block header in a block body). Unindented lines
// ending in ')' or '):' are mostly prose ("see the notes (attached):"), and unindented Python
// block headers start with a keyword anyway.
const KW = String.raw`(?:def|class|import|from|return|if|elif|else|for|while|function|const|let|var|public|private|protected|static|void|int|package|func|fn|use|try|catch|except|finally|async|await|export|struct|impl|match|#include|#define|SELECT|FROM|WHERE|JOIN|ORDER BY|GROUP BY|INSERT|UPDATE|DELETE|CREATE|ALTER|VALUES|SET)\b`;
const LINE = String.raw`(?:[ \t]*${KW}[^\n]*|[^\n]*[;{}][ \t]*|[ \t]+[^\n]*[)\]:][ \t]*)`;

const unfenced: Detector = {
  class: 'code.source',
  family: 'code',
  severity: 'LOW',
  variant: 'lines',
  description: 'Three or more consecutive lines of code (statement keywords, line-ending ; { }), dense in keywords and punctuation',
  // Lines may be separated by one blank line; each line is delimited by its newline. At most 21
  // lines per finding, so a long file yields several findings rather than one of unbounded size.
  // (A larger count costs linearly in RE2's DFA states: {2,60} scanned code at 16 MB/s, {2,20}
  // at 85 MB/s.) The value is the whole match: no capture group, so RE2 needs no submatch pass.
  pattern: String.raw`(?m)^${LINE}(?:\r?\n(?:[ \t]*\r?\n)?${LINE}){2,20}`,
  // Three lines: what every match starts with.
  prefilter: String.raw`(?m)^${LINE}(?:\r?\n(?:[ \t]*\r?\n)?${LINE}){2}`,
  maxLength: 20_000,
  // SQL and Python carry less punctuation than C-like code: three distinct keywords make up for it.
  validate: (value) => {
    const { keywords, symbols } = codeDensity(value);
    return (keywords >= 2 && symbols >= 0.04) || (keywords >= 3 && symbols >= 0.02);
  },
  confidence: () => 0.7,
  examples: [
    {
      text: 'public class Invoice {\n    private final BigDecimal total;\n    public BigDecimal getTotal() { return total; }\n}',
      match: 'public class Invoice {\n    private final BigDecimal total;\n    public BigDecimal getTotal() { return total; }\n}',
    },
    {
      text: 'The error comes from this:\nconst res = await fetch(url);\nif (!res.ok) throw new Error(res.statusText);\nreturn res.json();\nAny idea?',
      match: 'const res = await fetch(url);\nif (!res.ok) throw new Error(res.statusText);\nreturn res.json();',
    },
    {
      text: 'Why is this slow?\n\ndef total(items):\n    subtotal = sum(i.price for i in items)\n    return subtotal * (1 + TAX_RATE)\n',
      match: 'def total(items):\n    subtotal = sum(i.price for i in items)\n    return subtotal * (1 + TAX_RATE)',
    },
    {
      text: 'Why is this slow on big files?\n\ndef load(path):\n    with open(path) as f:\n        rows = [json.loads(l) for l in f]\n    return {r["id"]: r for r in rows}\n',
      match: 'def load(path):\n    with open(path) as f:\n        rows = [json.loads(l) for l in f]\n    return {r["id"]: r for r in rows}',
    },
    {
      text: "Please run\nSELECT name, email FROM customers\nWHERE country = 'DE'\nORDER BY name;\nand send the CSV.",
      match: "SELECT name, email FROM customers\nWHERE country = 'DE'\nORDER BY name;",
    },
    {
      text: 'SELECT id, email FROM users\nWHERE created_at > now() - interval 7 day\nORDER BY id;\n',
      match: 'SELECT id, email FROM users\nWHERE created_at > now() - interval 7 day\nORDER BY id;',
    },
  ],
  negatives: [
    'For the record, we shipped it;\nif you ask me, it was late;\nelse we would be fine.',
    '2024-06-01 12:00:01 INFO started {pid=123}\n2024-06-01 12:00:02 INFO ready {port=8080}\n2024-06-01 12:00:03 WARN slow {ms=1200}',
    '- item one\n- item two\n- item three',
    'Use `npm install` and then run the tests (see the README).',
  ],
};

export const CODE_DETECTORS: readonly Detector[] = [fenced, unfenced];
