-- :JobKernelQuickfix {id}: a failed job's errors in the quickfix list.
--
-- The entries are the job's error (its `error.message`), then its log lines at level `error`
-- (an exec handler's stderr) and any other line that names a file position and says "error" or
-- "warning". A line is read as `file:line:col: text`, `file:line: text` or Python's
-- `File "file", line N`; a relative file is taken from the job's working directory, and only a
-- file that exists becomes a jump target (so a time such as 12:30:45 is not taken for one).

local jk = require('jobkernel')

local M = {}

local function join(dir, file)
  if file:sub(1, 1) == '/' or not dir then return file end
  return dir .. '/' .. file
end

--- Parses one message into a quickfix item (without `type`); `cwd` resolves relative files.
function M.parse(text, cwd)
  local item = { text = text }
  local file, lnum, col, rest = text:match('^%s*([^:%s][^:]*):(%d+):(%d+):?%s*(.*)$')
  if not file then
    file, lnum, rest = text:match('^%s*([^:%s][^:]*):(%d+):%s*(.*)$')
  end
  if not file then
    file, lnum = text:match('File "([^"]+)", line (%d+)')
    rest = text
  end
  if file then
    local path = join(cwd, file)
    if vim.fn.filereadable(path) == 1 then
      item.filename = path
      item.lnum = tonumber(lnum)
      item.col = col and tonumber(col) or 0
      item.text = rest ~= '' and rest or text
    end
  end
  return item
end

local function kind_of(level, text)
  local lower = text:lower()
  if level == 'error' or lower:find('error') then return 'E' end
  if level == 'warn' or lower:find('warning') then return 'W' end
  return nil
end

local function read_all(id, since, lines, done)
  jk.request('logs', { id = id, since = since, limit = 1000 }, function(err, page)
    if err then return done(err) end
    for _, line in ipairs(page.lines or {}) do lines[#lines + 1] = line end
    local next_since = jk.nonnull(page.next)
    if next_since then return read_all(id, next_since, lines, done) end
    done(nil, lines)
  end)
end

--- The quickfix items for a job and its log lines.
function M.items(job, lines)
  local payload = jk.nonnull(job.payload)
  local cwd = type(payload) == 'table' and jk.nonnull(payload.cwd) or nil
  local items = {}
  local err = jk.nonnull(job.error)
  if type(err) == 'table' and jk.nonnull(err.message) then
    items[#items + 1] = { text = ('job %s %s: %s'):format(job.id, job.status, err.message), type = 'E' }
  end
  for _, line in ipairs(lines) do
    local text = tostring(jk.nonnull(line.message) or '')
    local level = jk.nonnull(line.level) or 'info'
    local item = M.parse(text, cwd)
    local kind = kind_of(level, text)
    if level == 'error' or (item.filename and kind) then
      item.type = kind or 'E'
      items[#items + 1] = item
    end
  end
  return items
end

--- Fills the quickfix list with job `id`'s errors; `callback(err, items)` when given.
function M.fill(id, callback)
  local function finish(err, items)
    if callback then callback(err, items) end
  end
  jk.request('get', { id = id }, function(err, job)
    if err then
      jk.notify('cannot read job ' .. id .. ': ' .. jk.error_text(err), vim.log.levels.ERROR)
      return finish(err)
    end
    jk.learn(job)
    if not jk.is_terminal(job.status) then
      jk.notify(('job %s is %s: its errors are known once it ends'):format(id, job.status), vim.log.levels.WARN)
      return finish({ message = 'job ' .. id .. ' is ' .. job.status })
    end
    if job.status == 'success' then
      jk.notify(('job %s succeeded: no errors to list'):format(id), vim.log.levels.INFO)
      return finish({ message = 'job ' .. id .. ' succeeded' })
    end
    read_all(id, 0, {}, function(lerr, lines)
      if lerr then
        jk.notify('cannot read the log of job ' .. id .. ': ' .. jk.error_text(lerr), vim.log.levels.ERROR)
        return finish(lerr)
      end
      local items = M.items(job, lines)
      vim.fn.setqflist({}, ' ', { title = ('jobkernel job %s: %s (%s)'):format(id, jk.describe(job), job.status), items = items })
      local located = 0
      for _, item in ipairs(items) do
        if item.filename then located = located + 1 end
      end
      jk.notify(('job %s %s: %d quickfix entries, %d with a file position'):format(id, job.status, #items, located),
        vim.log.levels.INFO)
      if #items > 0 then vim.cmd('botright copen') end
      finish(nil, items)
    end)
  end)
end

return M
