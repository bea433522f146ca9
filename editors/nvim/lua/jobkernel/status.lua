-- :JobKernelStatus: a floating window listing running, waiting and recent jobs with live progress
-- bars. Keys: c cancel, r retry, l or <CR> the log, x the quickfix list, q or <Esc> close.

local jk = require('jobkernel')

local M = {}

M.buf = nil
M.win = nil
--- line number (1-based) -> job id, for the keys
M.line_ids = {}

local ORDER = { running = 0, pending = 1, scheduled = 2 }

--- `[#####-----]` for a percentage; blank inside when none is reported.
function M.bar(pct, width)
  if not pct then return '[' .. string.rep(' ', width) .. ']' end
  local filled = math.max(0, math.min(width, math.floor(pct * width / 100)))
  return '[' .. string.rep('#', filled) .. string.rep('-', width - filled) .. ']'
end

local function sorted_jobs()
  local list = {}
  for _, job in pairs(jk.jobs) do list[#list + 1] = job end
  table.sort(list, function(a, b)
    local ra, rb = ORDER[a.status] or 3, ORDER[b.status] or 3
    if ra ~= rb then return ra < rb end
    local ia, ib = tonumber(a.id) or 0, tonumber(b.id) or 0
    if ra == 3 then return ia > ib end -- finished: newest first
    return ia < ib
  end)
  local out, finished = {}, 0
  for _, job in ipairs(list) do
    if ORDER[job.status] then
      out[#out + 1] = job
    elseif finished < jk.config.recent then
      finished = finished + 1
      out[#out + 1] = job
    end
  end
  return out
end

local function pad(s, n)
  s = tostring(s)
  if #s >= n then return s:sub(1, n) end
  return s .. string.rep(' ', n - #s)
end

--- The window's lines and, for each, the job id it shows (nil for headers).
function M.render(width)
  local jobs = sorted_jobs()
  local counts = {}
  for _, job in pairs(jk.jobs) do counts[job.status] = (counts[job.status] or 0) + 1 end
  local tally = {}
  for _, s in ipairs({ 'running', 'pending', 'scheduled', 'failed' }) do
    if counts[s] then tally[#tally + 1] = counts[s] .. ' ' .. s end
  end
  local head = 'jobkernel  ' .. (#tally > 0 and table.concat(tally, ', ') or 'no jobs running')
  if jk.state == 'reconnecting' then head = head .. '  (reconnecting…)' end
  local lines = { head, 'c cancel  r retry  l/<CR> log  x quickfix  q close', '' }
  local ids = {}
  local idw = 2
  for _, job in ipairs(jobs) do idw = math.max(idw, #job.id) end
  local barw = 16
  for _, job in ipairs(jobs) do
    local pct = jk.percent(job)
    local status = job.status == 'partial_success' and 'partial' or job.status
    if job.cancel_requested == true and status == 'running' then status = 'cancelling' end
    local p = jk.nonnull(job.progress) or {}
    local phase = jk.nonnull(p.phase)
    local msg = jk.nonnull(p.message)
    -- a job that succeeded without reporting progress still shows a full bar
    local bar = M.bar(pct or (job.status == 'success' and 100 or nil), barw)
    local line = pad(job.id, idw) .. '  ' .. pad(status, 10) .. ' ' .. bar .. ' '
      .. (pct and (string.rep(' ', 3 - #tostring(pct)) .. pct .. '%') or '    ') .. '  ' .. jk.describe(job)
    if phase and msg then
      line = line .. '  · ' .. phase .. ': ' .. msg
    elseif phase or msg then
      line = line .. '  · ' .. (phase or msg)
    end
    if M.is_failed(job) then
      local err = jk.nonnull(job.error)
      if type(err) == 'table' and jk.nonnull(err.message) then line = line .. '  ! ' .. err.message end
    end
    lines[#lines + 1] = line:sub(1, math.max(20, width))
    ids[#lines] = job.id
  end
  if #jobs == 0 then lines[#lines + 1] = '(no jobs yet: :JobKernelRun {cmd})' end
  return lines, ids
end

function M.is_failed(job)
  return job.status == 'failed' or job.status == 'partial_success'
end

function M.is_open()
  return M.win ~= nil and vim.api.nvim_win_is_valid(M.win)
end

--- Redraws the window's buffer from the job table (keeps the cursor on the same job).
function M.refresh()
  if not (M.buf and vim.api.nvim_buf_is_valid(M.buf)) then return end
  local width = M.is_open() and vim.api.nvim_win_get_width(M.win) or 100
  local cursor_id = M.is_open() and M.line_ids[vim.api.nvim_win_get_cursor(M.win)[1]]
  local lines, ids = M.render(width)
  vim.bo[M.buf].modifiable = true
  vim.api.nvim_buf_set_lines(M.buf, 0, -1, false, lines)
  vim.bo[M.buf].modifiable = false
  M.line_ids = ids
  if M.is_open() then
    local height = math.max(5, math.min(#lines, vim.o.lines - 6))
    vim.api.nvim_win_set_height(M.win, height)
    local target = nil
    for n, id in pairs(ids) do
      if id == cursor_id then target = n end
    end
    if not target then
      for n = 1, #lines do
        if ids[n] then target = n break end
      end
    end
    if target then vim.api.nvim_win_set_cursor(M.win, { target, 0 }) end
  end
end

--- The job id on the cursor's line, or nil (with a message).
function M.job_under_cursor()
  local id = M.line_ids[vim.api.nvim_win_get_cursor(0)[1]]
  if not id then jk.notify('no job on this line', vim.log.levels.WARN) end
  return id
end

--- Puts the cursor on the line of job `id`; false when it is not shown.
function M.select(id)
  for n, shown in pairs(M.line_ids) do
    if shown == id and M.is_open() then
      vim.api.nvim_win_set_cursor(M.win, { n, 0 })
      return true
    end
  end
  return false
end

function M.close()
  if M.is_open() then vim.api.nvim_win_close(M.win, true) end
  M.win = nil
end

--- Opens (or focuses) the floating status window.
function M.open()
  if M.is_open() then
    vim.api.nvim_set_current_win(M.win)
    M.refresh()
    return M.win
  end
  if not (M.buf and vim.api.nvim_buf_is_valid(M.buf)) then
    M.buf = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(M.buf, 'jobkernel://status')
    vim.bo[M.buf].bufhidden = 'hide'
    vim.bo[M.buf].filetype = 'jobkernel-status'
    local function map(lhs, fn)
      vim.keymap.set('n', lhs, fn, { buffer = M.buf, nowait = true, silent = true })
    end
    map('q', M.close)
    map('<Esc>', M.close)
    map('c', function()
      local id = M.job_under_cursor()
      if id then jk.cancel(id) end
    end)
    map('r', function()
      local id = M.job_under_cursor()
      if id then jk.retry(id) end
    end)
    local function open_log()
      local id = M.job_under_cursor()
      if not id then return end
      M.close()
      jk.logs(id)
    end
    map('l', open_log)
    map('<CR>', open_log)
    map('x', function()
      local id = M.job_under_cursor()
      if not id then return end
      M.close()
      jk.quickfix(id)
    end)
  end
  local width = math.max(40, math.min(110, vim.o.columns - 4))
  local height = math.max(5, math.min(20, vim.o.lines - 6))
  M.win = vim.api.nvim_open_win(M.buf, true, {
    relative = 'editor',
    width = width,
    height = height,
    row = math.floor((vim.o.lines - height) / 2) - 1,
    col = math.floor((vim.o.columns - width) / 2),
    style = 'minimal',
    border = 'rounded',
  })
  vim.wo[M.win].cursorline = true
  vim.wo[M.win].wrap = false
  jk.on_change('status-window', M.refresh)
  M.refresh()
  return M.win
end

return M
