-- Driven by tests/test_neovim.py: Neovim's built-in LSP client (0.7+) against `repo-rlm lsp`.
-- Environment: RLM_CMD (JSON list), RLM_ROOT, RLM_OUT (a JSON file to write), RLM_REQUESTS
-- (JSON list of {method, file, line (1-based), col (0-based byte)}).
local function run()
  local cmd = vim.fn.json_decode(os.getenv("RLM_CMD"))
  local root = os.getenv("RLM_ROOT")
  local requests = vim.fn.json_decode(os.getenv("RLM_REQUESTS"))
  local indexed = false
  local client_id = vim.lsp.start_client({
    name = "repo-rlm",
    cmd = cmd,
    root_dir = root,
    handlers = {
      ["$/progress"] = function(_, result)
        if type(result.token) == "string" and result.token:find("^repo%-rlm/index/") and result.value.kind == "end" then
          indexed = true
        end
      end,
    },
  })
  assert(client_id, "start_client failed")
  local out = { results = {} }
  for i, req in ipairs(requests) do
    vim.cmd("edit " .. vim.fn.fnameescape(root .. "/" .. req.file))
    local bufnr = vim.api.nvim_get_current_buf()
    vim.lsp.buf_attach_client(bufnr, client_id)
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
    local response = responses[client_id]
    assert(response and not response.err, "request failed: " .. vim.inspect(response))
    local items = vim.lsp.util.locations_to_items(response.result or {}, "utf-16")
    local simple = {}
    for _, item in ipairs(items) do
      table.insert(simple, { file = item.filename, lnum = item.lnum, col = item.col, text = item.text })
    end
    table.insert(out.results, { method = req.method, locations = response.result, items = simple })
  end
  vim.lsp.stop_client(client_id)
  vim.wait(5000, function() return vim.lsp.get_client_by_id(client_id) == nil end, 20)
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
