// Protocol-level test: spawn `repo-rlm lsp`, speak JSON-RPC over stdio, initialize on the
// polyglot fixture (copied to a temp dir, index in the temp dir), request definitions.
// Binary: $REPO_RLM_BIN, else ../../.venv/bin/repo-rlm (relative to this package).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const bin = process.env.REPO_RLM_BIN || resolve(here, "../../../.venv/bin/repo-rlm");
const fixture = resolve(here, "../../../fixtures/polyglot");

class Rpc {
  constructor(child) {
    this.child = child;
    this.nextId = 1;
    this.pending = new Map();
    this.notifications = [];
    this.buf = Buffer.alloc(0);
    child.stdout.on("data", (chunk) => this.onData(chunk));
  }
  onData(chunk) {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      const sep = this.buf.indexOf("\r\n\r\n");
      if (sep < 0) return;
      const header = this.buf.subarray(0, sep).toString("ascii");
      const m = /Content-Length: (\d+)/i.exec(header);
      assert.ok(m, `bad header from server: ${JSON.stringify(header)}`);
      const len = Number(m[1]);
      if (this.buf.length < sep + 4 + len) return;
      const msg = JSON.parse(this.buf.subarray(sep + 4, sep + 4 + len).toString("utf8"));
      this.buf = this.buf.subarray(sep + 4 + len);
      this.onMessage(msg);
    }
  }
  onMessage(msg) {
    if (msg.id !== undefined && msg.method) {
      // a request from the server (workDoneProgress/create, registerCapability): accept it
      this.send({ jsonrpc: "2.0", id: msg.id, result: null });
    } else if (msg.id !== undefined) {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (p) msg.error ? p.reject(new Error(msg.error.message)) : p.resolve(msg.result);
    } else {
      this.notifications.push(msg);
    }
  }
  send(obj) {
    const body = Buffer.from(JSON.stringify(obj), "utf8");
    this.child.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
    this.child.stdin.write(body);
  }
  request(method, params, timeoutMs = 30000) {
    const id = this.nextId++;
    this.send({ jsonrpc: "2.0", id, method, params });
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${method} timed out`)), timeoutMs);
      this.pending.set(id, {
        resolve: (v) => (clearTimeout(t), resolve(v)),
        reject: (e) => (clearTimeout(t), reject(e)),
      });
    });
  }
  notify(method, params) {
    this.send({ jsonrpc: "2.0", method, params });
  }
}

async function waitFor(pred, timeoutMs, what) {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("definition over stdio on the polyglot fixture", { timeout: 60000 }, async () => {
  assert.ok(existsSync(bin), `repo-rlm not found at ${bin} (set REPO_RLM_BIN)`);
  const tmp = mkdtempSync(join(tmpdir(), "repo-rlm-vscode-"));
  const root = join(tmp, "polyglot");
  cpSync(fixture, root, { recursive: true });
  const child = spawn(bin, ["--index", join(tmp, "index.db"), "lsp", "--stdio"], {
    cwd: tmp,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const rpc = new Rpc(child);
  try {
    const rootUri = pathToFileURL(root).href;
    const init = await rpc.request("initialize", {
      processId: process.pid,
      rootUri,
      workspaceFolders: [{ uri: rootUri, name: "polyglot" }],
      capabilities: { window: { workDoneProgress: true } },
    });
    assert.equal(init.serverInfo.name, "repo-rlm");
    assert.equal(init.capabilities.definitionProvider, true);
    assert.ok(init.capabilities.callHierarchyProvider);
    rpc.notify("initialized", {});

    // the index build reports work-done progress and ends
    await waitFor(
      () => rpc.notifications.some((n) => n.method === "$/progress" && n.params.value.kind === "end"),
      30000,
      "the end of indexing progress",
    );

    const tokens = pathToFileURL(join(root, "src/auth/tokens.ts")).href;
    // tokens.ts:10 `  const claims = decode(token);` -> `function decode(` at line 17
    const local = await rpc.request("textDocument/definition", {
      textDocument: { uri: tokens },
      position: { line: 9, character: 19 },
    });
    assert.deepEqual(local, [
      { uri: tokens, range: { start: { line: 16, character: 9 }, end: { line: 16, character: 15 } } },
    ]);

    // middleware.ts:7 `verifyToken(` is imported from ./tokens -> tokens.ts:9
    const middleware = pathToFileURL(join(root, "src/auth/middleware.ts")).href;
    const imported = await rpc.request("textDocument/definition", {
      textDocument: { uri: middleware },
      position: { line: 6, character: 18 },
    });
    assert.deepEqual(imported, [
      { uri: tokens, range: { start: { line: 8, character: 16 }, end: { line: 8, character: 27 } } },
    ]);

    await rpc.request("shutdown", null);
    rpc.notify("exit", null);
    const code = await new Promise((r) => child.on("exit", r));
    assert.equal(code, 0, stderr);
  } finally {
    child.kill();
    rmSync(tmp, { recursive: true, force: true });
  }
});
