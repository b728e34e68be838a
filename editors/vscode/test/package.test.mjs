// The .vsix holds one bundled script (esbuild) and the manifest, not node_modules.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

test("the package lists a handful of files, with the bundle as its entry point", () => {
  const vsce = join(root, "node_modules", ".bin", "vsce");
  const files = execFileSync(vsce, ["ls", "--no-dependencies"], { cwd: root, encoding: "utf8" })
    .split("\n").map((f) => f.trim()).filter(Boolean);
  assert.ok(files.includes("dist/extension.js"), files.join(", "));
  assert.ok(files.length <= 6, `too many files in the package: ${files.join(", ")}`);
  assert.ok(!files.some((f) => f.startsWith("node_modules/")));
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  assert.equal(manifest.main, "./dist/extension.js");
});

test("the bundle carries the language client inside it and needs only vscode at run time", () => {
  const bundle = readFileSync(join(root, "dist", "extension.js"), "utf8");
  const required = new Set([...bundle.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]));
  const external = [...required].filter((m) => !m.startsWith("node:") && !isBuiltin(m));
  assert.deepEqual(external, ["vscode"]);
});

function isBuiltin(name) {
  return ["child_process", "crypto", "events", "fs", "net", "os", "path", "stream", "url", "util", "assert",
    "buffer", "tty", "http", "https", "zlib", "string_decoder", "querystring", "worker_threads", "timers", "constants"]
    .includes(name);
}
