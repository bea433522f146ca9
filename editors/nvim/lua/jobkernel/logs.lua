-- :JobKernelLogs {id}: a scratch buffer that follows a job's log live.
--
-- It subscribes to the job's `job.log` and `job.status` events first, then reads the lines logged
-- so far with `logs` (paged); live lines are held back until that backlog is in, and a line is
-- shown once, by its seq within the job's log. The subscription resumes with `since` after a
-- reconnect. The buffer says when the job ends; wiping it ends the subscription.

local jk = require('jobkernel')

local M = {}

--- job id -> follower {buf, sub, last_log, backlog_done, held, ended}
M.followers = {}

local function format_line(line)
  local ts = jk.nonnull(line.ts) or ''
  local time = ts:match('T(%d%d:%d%d:%d%d%.?%d*)') or ts
  local level = jk.nonnull(line.level) or 'info'
  local text = tostring(jk.nonnull(line.message) or ''):gsub('\n', ' ')
  return time .. ' ' .. string.format('%-5s', level) .. ' ' .. text
end
M.format_line = format_line

-- Writes the queued lines into the buffer (once per batch: a job that logs fast costs one buffer
-- change per main-loop turn, not one per line).
local function flush(f)
  f.flush_scheduled = false
  local lines = f.queue
  f.queue = {}
  if #lines == 0 or not vim.api.nvim_buf_is_valid(f.buf) then return end
  -- windows whose cursor is on the last line follow the new lines
  local following = {}
  local count = vim.api.nvim_buf_line_count(f.buf)
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_buf(win) == f.buf and vim.api.nvim_win_get_cursor(win)[1] >= count then
      following[#following + 1] = win
    end
  end
  vim.bo[f.buf].modifiable = true
  local first = vim.api.nvim_buf_get_lines(f.buf, 0, 1, false)[1]
  if count == 1 and first == '' then
    vim.api.nvim_buf_set_lines(f.buf, 0, 1, false, lines)
  else
    vim.api.nvim_buf_set_lines(f.buf, -1, -1, false, lines)
  end
  vim.bo[f.buf].modifiable = false
  local last = vim.api.nvim_buf_line_count(f.buf)
  for _, win in ipairs(following) do
    if vim.api.nvim_win_is_valid(win) then vim.api.nvim_win_set_cursor(win, { last, 0 }) end
  end
end

local function append(f, lines)
  vim.list_extend(f.queue, lines)
  if not f.flush_scheduled then
    f.flush_scheduled = true
    vim.schedule(function() flush(f) end)
  end
end

local function show_log(f, seq, line)
  if seq <= f.last_log then return end
  f.last_log = seq
  append(f, { format_line(line) })
end

local function ended(f, job)
  if f.ended then return end
  f.ended = true
  local err = jk.nonnull(job.error)
  local message = type(err) == 'table' and jk.nonnull(err.message)
  append(f, { ('-- job %s %s%s --'):format(job.id, job.status, message and (': ' .. message) or '') })
  if f.sub then
    jk.unsubscribe(f.sub)
    f.sub = nil
  end
end

local function on_event(f, ev)
  if not f.backlog_done then
    f.held[#f.held + 1] = ev
    return
  end
  local data = jk.nonnull(ev.data) or {}
  if ev.kind == 'job.log' then
    show_log(f, data.seq, { ts = ev.ts, level = data.level, message = data.message })
  elseif ev.kind == 'job.status' then
    local job = jk.nonnull(data.job)
    if job then
      jk.learn(job)
      if jk.is_terminal(job.status) then
        ended(f, job)
      elseif job.status == 'running' and data.from ~= 'running' and f.shown_runs then
        append(f, { ('-- job %s running (attempt %s) --'):format(job.id, tostring(job.attempt)) })
      end
      f.shown_runs = true
    end
  end
end

local function read_backlog(f, since, snapshot)
  jk.request('logs', { id = f.id, since = since, limit = 1000 }, function(err, page)
    if err then
      append(f, { '-- cannot read the log: ' .. jk.error_text(err) .. ' --' })
      return
    end
    for _, line in ipairs(page.lines or {}) do show_log(f, line.seq, line) end
    local next_since = jk.nonnull(page.next)
    if next_since then return read_backlog(f, next_since, snapshot) end
    f.backlog_done = true
    local held = f.held
    f.held = {}
    f.shown_runs = true
    if snapshot and jk.is_terminal(snapshot.status) then
      ended(f, snapshot)
      return
    end
    for _, ev in ipairs(held) do on_event(f, ev) end
  end)
end

-- A split cannot be made from a floating window: leave it for a normal one first.
local function leave_float()
  if vim.api.nvim_win_get_config(0).relative == '' then return end
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if vim.api.nvim_win_get_config(win).relative == '' then
      vim.api.nvim_set_current_win(win)
      return
    end
  end
end

local function split()
  leave_float()
  vim.cmd('botright split')
end

--- Opens the log of job `id` in a split (or focuses it); returns the buffer.
function M.open(id)
  local f = M.followers[id]
  if f and vim.api.nvim_buf_is_valid(f.buf) then
    local win = vim.fn.bufwinid(f.buf)
    if win ~= -1 then
      vim.api.nvim_set_current_win(win)
    else
      split()
      vim.api.nvim_win_set_buf(0, f.buf)
    end
    return f.buf
  end
  local buf = vim.api.nvim_create_buf(true, true)
  vim.api.nvim_buf_set_name(buf, 'jobkernel://logs/' .. id)
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].swapfile = false
  vim.bo[buf].filetype = 'jobkernel-log'
  vim.bo[buf].modifiable = false
  f = { id = id, buf = buf, last_log = 0, backlog_done = false, held = {}, ended = false, queue = {} }
  M.followers[id] = f
  split()
  vim.api.nvim_win_set_buf(0, buf)
  vim.api.nvim_create_autocmd('BufWipeout', {
    buffer = buf,
    once = true,
    callback = function()
      if f.sub then jk.unsubscribe(f.sub) end
      f.sub = nil
      if M.followers[id] == f then M.followers[id] = nil end
    end,
  })
  f.sub = jk.subscribe({ ids = { id }, kinds = { 'job.log', 'job.status' } }, {
    on_ready = function(result, resumed)
      if resumed then return end -- resumed with since: the events carry on where they were
      local snapshot = result.jobs and jk.nonnull(result.jobs[1])
      if snapshot then jk.learn(snapshot) end
      read_backlog(f, f.last_log, snapshot)
    end,
    on_reset = function()
      -- events were lost: hold live lines until the log is read again from the last line shown
      -- (on_ready follows)
      f.backlog_done = false
    end,
    on_error = function(err)
      append(f, { ('-- cannot follow job %s: %s --'):format(id, jk.error_text(err)) })
      if f.sub then jk.unsubscribe(f.sub) end
      f.sub = nil
    end,
    on_event = function(ev) on_event(f, ev) end,
  })
  return buf
end

return M
