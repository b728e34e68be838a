// repo-rlm for VS Code: a thin client of `repo-rlm lsp`. All the logic is in the server.
import * as vscode from "vscode";
import {
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  TransportKind,
  WorkDoneProgress,
} from "vscode-languageclient/node";
import { answerMarkdown, AskResult } from "./answer";

const SECTION = "repoRlm";
let client: LanguageClient | undefined;

function settings() {
  const cfg = vscode.workspace.getConfiguration(SECTION);
  return {
    path: cfg.get<string>("path") || "repo-rlm",
    indexPath: cfg.get<string>("indexPath") || "",
    model: cfg.get<string>("model") || "",
    subModel: cfg.get<string>("subModel") || "",
    apiBase: cfg.get<string>("apiBase") || "",
    budgetUsd: cfg.get<number>("budgetUsd") || 0,
  };
}

function makeClient(): LanguageClient {
  const s = settings();
  // Global options go before the subcommand; the client appends --stdio, which `lsp` accepts.
  const args = [...(s.indexPath ? ["--index", s.indexPath] : []), "lsp"];
  const serverOptions: ServerOptions = { command: s.path, args, transport: TransportKind.stdio };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file" }],
    initializationOptions: { model: s.model, subModel: s.subModel, apiBase: s.apiBase, budgetUsd: s.budgetUsd },
    synchronize: { configurationSection: SECTION },
    middleware: {
      // Code lens "N callers": show the locations in the references peek.
      executeCommand: async (command, args, next) => {
        if (command !== "repoRlm.showCallers" || args.length < 3 || !client) return next(command, args);
        const c2p = client.protocol2CodeConverter;
        const locations = await c2p.asReferences(args[2]);
        return vscode.commands.executeCommand(
          "editor.action.showReferences",
          c2p.asUri(args[0]),
          c2p.asPosition(args[1]),
          locations ?? [],
        );
      },
    },
  };
  return new LanguageClient("repoRlm", "repo-rlm", serverOptions, clientOptions);
}

async function ask(context: vscode.ExtensionContext): Promise<void> {
  if (!client) return;
  const question = await vscode.window.showInputBox({
    title: "repo-rlm: Ask about this codebase",
    prompt: "A question about the code, e.g. where is auth enforced?",
    ignoreFocusOut: true,
  });
  if (!question?.trim()) return;
  const lc = client;
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: "repo-rlm", cancellable: true },
    async (progress, cancel) => {
      const workDoneToken = `repo-rlm-ask-${Date.now()}`;
      let done = 0;
      const sub = lc.onProgress(WorkDoneProgress.type, workDoneToken, (value) => {
        if (value.kind === "end") return;
        const pct = value.percentage ?? done;
        progress.report({ message: value.message, increment: Math.max(pct - done, 0) });
        done = Math.max(pct, done);
      });
      try {
        return await lc.sendRequest<AskResult>("repoRlm/ask", { question, workDoneToken }, cancel);
      } catch (err) {
        if (cancel.isCancellationRequested) return undefined;
        const msg = err instanceof Error ? err.message : String(err);
        void vscode.window.showErrorMessage(`repo-rlm: ${msg.split("\n")[0]}`);
        return undefined;
      } finally {
        sub.dispose();
      }
    },
  );
  if (!result) return;
  const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const dir = vscode.Uri.joinPath(context.globalStorageUri, "answers");
  await vscode.workspace.fs.createDirectory(dir);
  const file = vscode.Uri.joinPath(dir, `answer-${Date.now()}.md`);
  await vscode.workspace.fs.writeFile(file, Buffer.from(answerMarkdown(question, result, root), "utf8"));
  await vscode.commands.executeCommand("markdown.showPreview", file);
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  client = makeClient();
  context.subscriptions.push(
    vscode.commands.registerCommand("repoRlm.askQuestion", () => ask(context)),
    vscode.commands.registerCommand("repoRlm.restartServer", async () => {
      await client?.stop();
      client = makeClient();
      await client.start();
    }),
  );
  try {
    await client.start();
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    void vscode.window.showErrorMessage(
      `repo-rlm: cannot start "${settings().path} lsp" (${msg.split("\n")[0]}); set repoRlm.path or pip install repo-rlm`,
    );
  }
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
