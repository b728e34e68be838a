-- Driven by tests/test_neovim.py: Neovim's built-in LSP client (0.7+) running the README's recipe
-- (RLM_RECIPE, a Lua file) against `repo-rlm lsp` (a `repo-rlm` on PATH).
-- Environment: RLM_RECIPE, RLM_ROOT, RLM_OUT (a JSON file to write), RLM_REQUESTS
-- (JSON list of {method, file, line (1-based), col (0-based byte)}), RLM_QUESTION.
local function run()
  local root = os.getenv("RLM_ROOT")
  local requests = vim.fn.json_decode(os.getenv("RLM_REQUESTS"))
  local indexed = false
  local default_progress = vim.lsp.handlers["$/progress"]
  vim.lsp.handlers["$/progress"] = function(err, result, ctx, config)
    if type(result.token) == "string" and result.token:find("^repo%-rlm/index/") and result.value.kind == "end" then
      indexed = true
    end
    if default_progress then return default_progress(err, result, ctx, config) end
  end
  vim.cmd("filetype on")
  dofile(os.getenv("RLM_RECIPE"))
  local out = { results = {}, errors = {} }
  local notify = vim.notify
  vim.notify = function(msg, level)
    if level and level >= vim.log.levels.WARN then table.insert(out.errors, msg) end
    return notify(msg, level)
  end
  for i, req in ipairs(requests) do
    vim.cmd("edit " .. vim.fn.fnameescape(root .. "/" .. req.file))
    local bufnr = vim.api.nvim_get_current_buf()
    assert(vim.wait(10000, function() return #vim.lsp.buf_get_clients(bufnr) > 0 end, 20), "no client attached")
    if i == 1 then
      assert(vim.wait(30000, function() return indexed end, 20), "the index build did not finish")
    end
    vim.api.nvim_win_set_cursor(0, { req.line, req.col })
    local params = vim.lsp.util.make_position_params()
    if req.method == "textDocument/references" then
      params.context = { includeDeclaration = true }
    end
    local responses, err = vim.lsp.buf_request_sync(bufnr, req.method, params, 10000)
    assert(responses, "no response: " .. tostring(err))
    local _, response = next(responses)
    assert(response and not response.err, "request failed: " .. vim.inspect(response))
    local items = vim.lsp.util.locations_to_items(response.result or {}, "utf-16")
    local simple = {}
    for _, item in ipairs(items) do
      table.insert(simple, { file = item.filename, lnum = item.lnum, col = item.col, text = item.text })
    end
    table.insert(out.results, { method = req.method, locations = response.result, items = simple })
  end
  -- one server for the whole repository, however many files were opened
  out.clients = #vim.lsp.get_active_clients()
  -- code lenses arrive for the current buffer (refreshed by the recipe once the server started)
  local bufnr = vim.api.nvim_get_current_buf()
  vim.lsp.codelens.refresh()
  vim.wait(10000, function() return #(vim.lsp.codelens.get(bufnr) or {}) > 0 end, 50)
  out.lenses = {}
  for _, lens in ipairs(vim.lsp.codelens.get(bufnr) or {}) do
    if lens.command then table.insert(out.lenses, { line = lens.range.start.line, title = lens.command.title }) end
  end
  -- :RepoRlmAsk opens the answer in a markdown split
  local before = #vim.api.nvim_list_bufs()
  vim.cmd("RepoRlmAsk " .. os.getenv("RLM_QUESTION"))
  assert(vim.wait(60000, function() return #vim.api.nvim_list_bufs() > before end, 50), "no answer buffer")
  out.answer = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
  out.answer_filetype = vim.bo.filetype
  out.errmsg = vim.v.errmsg
  for _, client in ipairs(vim.lsp.get_active_clients()) do client.stop() end
  vim.wait(5000, function() return #vim.lsp.get_active_clients() == 0 end, 20)
  local f = assert(io.open(os.getenv("RLM_OUT"), "w"))
  f:write(vim.fn.json_encode(out))
  f:close()
end

local ok, err = pcall(run)
if not ok then
  io.stderr:write("nvim_lsp.lua: " .. tostring(err) .. "\n")
  vim.cmd("cquit 1")
end
vim.cmd("qall!")
