// Pure helpers (no `vscode` import), so the node test runner can check them.

export interface LspPosition { line: number; character: number }
export interface LspRange { start: LspPosition; end: LspPosition }
export interface Citation { uri: string; range: LspRange }
export interface AskResult {
  answer: string;
  citations: Citation[];
  stopped: string;
  iterations?: number;
  usage?: { prompt_tokens?: number; completion_tokens?: number; cost_usd?: number };
}

/** A citation as a Markdown link that the Markdown preview opens at its first line. */
export function citationLink(c: Citation, root?: string): string {
  const start = c.range.start.line + 1;
  const end = Math.max(c.range.end.line + 1, start);
  let label = decodeURIComponent(c.uri.replace(/^file:\/\//, ""));
  if (root) {
    const prefix = root.endsWith("/") ? root : root + "/";
    if (label.startsWith(prefix)) label = label.slice(prefix.length);
  }
  const lines = end > start ? `${start}-${end}` : `${start}`;
  return `[${label}:${lines}](${c.uri}#L${start})`;
}

/** The answer page: question, answer, citations as clickable links, and how the run ended. */
export function answerMarkdown(question: string, result: AskResult, root?: string): string {
  const parts = [`# ${question.replace(/\s+/g, " ").trim()}`, "", result.answer.trim(), ""];
  if (result.citations.length) {
    parts.push("## Citations", "");
    for (const c of result.citations) parts.push(`- ${citationLink(c, root)}`);
    parts.push("");
  }
  const facts = [`stopped: ${result.stopped}`];
  if (result.iterations !== undefined) facts.push(`iterations: ${result.iterations}`);
  if (result.usage?.cost_usd !== undefined) facts.push(`cost: $${result.usage.cost_usd.toFixed(4)}`);
  parts.push("---", "", `*${facts.join(" · ")}*`, "");
  return parts.join("\n");
}
