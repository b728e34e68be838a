// The answer page that the "Ask about this codebase" command previews (compiled by `npm run build`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { answerMarkdown, citationLink } = require("../out/src/answer.js");

test("citations become links that open at their first line", () => {
  const c = { uri: "file:///w/app/src/auth/tokens.ts", range: { start: { line: 8, character: 0 }, end: { line: 14, character: 1 } } };
  assert.equal(citationLink(c, "/w/app"), "[src/auth/tokens.ts:9-15](file:///w/app/src/auth/tokens.ts#L9)");
  const one = { uri: "file:///w/a%20b/x.py", range: { start: { line: 0, character: 0 }, end: { line: 0, character: 3 } } };
  assert.equal(citationLink(one), "[/w/a b/x.py:1](file:///w/a%20b/x.py#L1)");
});

test("the page has the question, the answer, the citations and how the run stopped", () => {
  const md = answerMarkdown("where is  auth\nenforced?", {
    answer: "In requireAuth.",
    citations: [{ uri: "file:///r/m.ts", range: { start: { line: 5, character: 0 }, end: { line: 12, character: 2 } } }],
    stopped: "final",
    iterations: 3,
    usage: { cost_usd: 0.0123 },
  }, "/r");
  assert.equal(
    md,
    "# where is auth enforced?\n\nIn requireAuth.\n\n## Citations\n\n- [m.ts:6-13](file:///r/m.ts#L6)\n\n---\n\n*stopped: final · iterations: 3 · cost: $0.0123*\n",
  );
});
