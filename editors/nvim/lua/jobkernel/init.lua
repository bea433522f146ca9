-- jobkernel for Neovim: run commands as jobkernel jobs, watch their progress, follow their logs,
-- cancel and retry them, and read their errors into the quickfix list. See `:help jobkernel`.
--
-- The plugin keeps one JSON-RPC connection to the kernel (see rpc.lua), one subscription for the
-- job table (status window, statusline, notifications) and one per followed log. Every
-- subscription remembers the last event seq it saw; when the connection ends it is made again
-- and each subscription resumes with `since`, so nothing is missed and nothing shows twice.

local rpc = require('jobkernel.rpc')

local M = {}

local defaults = {
  -- the jobkernel binary
  bin = 'jobkernel',
  -- the kernel's socket: `serve --stdio --socket SOCKET` attaches to the kernel that owns the
  -- database, or becomes it (serving SOCKET for the shell) when none runs. nil: the default path.
  -- false: spawn `serve --stdio` alone.
  socket = nil,
  -- 'spawn' (default) or 'socket': connect to the socket directly, spawning nothing
  transport = 'spawn',
  -- more arguments for `serve` (e.g. { '--db', path, '--config', path })
  args = {},
  -- connect at setup() (else at the first command)
  autostart = true,
  -- tell when a job started from this editor ends
  notify = true,
  -- the name jobs started from here carry as `created_by`
  client_name = 'nvim',
  -- finished jobs shown by :JobKernelStatus
  recent = 20,
  -- how long to wait before connecting again after the connection ended (ms)
  retry_ms = 200,
}

M.config = vim.deepcopy(defaults)
--- id -> job, as the kernel last told it
M.jobs = {}
--- ids of the jobs started from this editor -> their command line
M.mine = {}
--- the id of the last job started from this editor
M.last_job = nil
--- connection state for the statusline and tests: 'idle', 'connected', 'reconnecting', 'failed'
M.state = 'idle'
M.reconnects = 0
--- events received as a replay (`since`) after a reconnect
M.replayed = 0

local client = nil
local subs = {} -- every live subscription (see M.subscribe)
local by_remote = {} -- the kernel's subscription id -> subscription
local listeners = {} -- name -> function(), called (debounced) after the job table changed
local notified = {}
local main_sub = nil
local change_pending = false

local TERMINAL = { success = true, partial_success = true, failed = true, cancelled = true, skipped = true }

--- True for a status a job does not leave on its own.
function M.is_terminal(status)
  return TERMINAL[status] == true
end

local function nonnull(v)
  if v == vim.NIL then return nil end
  return v
end
M.nonnull = nonnull

--- A readable error: the kernel's message and its data.reason.
function M.error_text(err)
  if type(err) ~= 'table' then return tostring(err) end
  local reason = type(err.data) == 'table' and nonnull(err.data.reason)
  return tostring(err.message or 'error') .. (reason and (' (' .. reason .. ')') or '')
end

local function notify(msg, level)
  vim.notify('jobkernel: ' .. msg, level or vim.log.levels.INFO)
end
M.notify = notify

--- The default socket path (docs/promises.md §1: $JOBKERNEL_SOCKET, else $JOBKERNEL_HOME/kernel.sock, else
--- ~/.local/state/jobkernel/kernel.sock).
function M.default_socket()
  local env = vim.env.JOBKERNEL_SOCKET
  if env and env ~= '' then return env end
  local home = vim.env.JOBKERNEL_HOME
  if not home or home == '' then home = (vim.env.HOME or '/tmp') .. '/.local/state/jobkernel' end
  return home .. '/kernel.sock'
end

--- What a job is, in the status window, notifications and quickfix titles: its label
--- (docs/promises.md §13), else its argv, else its type.
function M.describe(job)
  local label = job and nonnull(job.label)
  if type(label) == 'string' and label ~= '' then return label end
  local payload = job and nonnull(job.payload)
  local argv = type(payload) == 'table' and nonnull(payload.argv)
  if type(argv) == 'table' and #argv > 0 then return table.concat(argv, ' ') end
  return job and job.type or '?'
end

-- ------------------------------------------------------------------------------- job table

-- The job table keeps every job not finished, and the latest `keep_finished` finished ones
-- (the shell's jobs arrive too: without this, a long session would keep them all).
local keep_finished = 500

local function prune()
  local finished = {}
  for id, job in pairs(M.jobs) do
    if M.is_terminal(job.status) and not M.mine[id] then finished[#finished + 1] = id end
  end
  if #finished <= keep_finished then return end
  table.sort(finished, function(a, b) return (tonumber(a) or 0) > (tonumber(b) or 0) end)
  for i = keep_finished + 1, #finished do M.jobs[finished[i]] = nil end
end

local function changed()
  if change_pending then return end
  change_pending = true
  vim.defer_fn(function()
    change_pending = false
    prune()
    for _, fn in pairs(listeners) do pcall(fn) end
    pcall(vim.cmd, 'redrawstatus!')
  end, 30)
end
M.changed = changed

--- Calls `fn()` after the job table changed (debounced); `name` replaces an earlier one.
function M.on_change(name, fn)
  listeners[name] = fn
end

local function maybe_notify_end(job)
  local id = job.id
  if not M.mine[id] or notified[id] or not M.is_terminal(job.status) then return end
  notified[id] = true
  if not M.config.notify then return end
  local err = nonnull(job.error)
  local message = type(err) == 'table' and nonnull(err.message)
  local level = vim.log.levels.INFO
  if job.status == 'cancelled' or job.status == 'skipped' then
    level = vim.log.levels.WARN
  elseif job.status ~= 'success' then
    level = vim.log.levels.ERROR
  end
  notify(('job %s (%s) %s%s'):format(id, M.mine[id], job.status, message and (': ' .. message) or ''), level)
end

--- Takes a job from `list`, `get` or an event, unless what is known is newer.
function M.learn(job)
  if type(job) ~= 'table' or not job.id then return end
  local known = M.jobs[job.id]
  if known and known.updated_at and job.updated_at and job.updated_at < known.updated_at then return end
  M.jobs[job.id] = job
  if M.is_terminal(job.status) and M.mine[job.id] then maybe_notify_end(job) end
  changed()
end

local function apply_event(ev)
  local data = nonnull(ev.data) or {}
  if ev.kind == 'job.created' or ev.kind == 'job.status' then
    M.learn(nonnull(data.job))
  elseif ev.kind == 'job.progress' then
    local job = M.jobs[ev.job_id]
    if job then
      job.progress = nonnull(data.progress) or job.progress
      changed()
    end
  end
end

local function load_jobs()
  M.request('list', { status = { 'running', 'pending', 'scheduled' }, limit = 200 }, function(err, result)
    if err then return end
    for _, job in ipairs(result.jobs or {}) do M.learn(job) end
  end)
  M.request('list', { limit = math.max(1, M.config.recent) }, function(err, result)
    if err then return end
    for _, job in ipairs(result.jobs or {}) do M.learn(job) end
  end)
end

-- ---------------------------------------------------------------------------- subscriptions

local function send_subscribe(sub)
  if sub.closed or sub.inflight or not client or not client:is_connected() then return end
  local params = vim.deepcopy(sub.params)
  if sub.last_seq then params.since = sub.last_seq end
  sub.inflight = true
  sub.remote = nil
  client:request('subscribe', params, function(err, result)
    sub.inflight = false
    if sub.closed then
      if result then client:request('unsubscribe', { subscription = result.subscription }) end
      return
    end
    if err then
      if err.code == -32000 then return end -- the connection ended: it resubscribes on connect
      if sub.last_seq and (err.code == -32006 or err.code == -32602) then
        -- the events after last_seq are gone (-32006), or this is another database (-32602):
        -- start from now and reload what the events would have told
        sub.last_seq = nil
        send_subscribe(sub)
        if sub.handlers.on_reset then sub.handlers.on_reset() end
        return
      end
      if sub.handlers.on_error then
        sub.handlers.on_error(err)
      else
        notify('subscribe failed: ' .. M.error_text(err), vim.log.levels.ERROR)
      end
      return
    end
    sub.remote = result.subscription
    by_remote[sub.remote] = sub
    local resumed = sub.last_seq ~= nil
    if not resumed then sub.last_seq = result.seq end
    sub.resume_seq = resumed and result.seq or nil
    if sub.handlers.on_ready then sub.handlers.on_ready(result, resumed) end
  end)
end

--- A subscription that survives reconnects: `subscribe` with `params`, then `handlers.on_event(ev)`
--- for each event (in seq order, never twice), `handlers.on_ready(result, resumed)` after each
--- subscribe answer, `handlers.on_reset()` when events were lost (reload state then).
--- Returns the subscription; `M.unsubscribe(sub)` ends it.
function M.subscribe(params, handlers)
  local sub = { params = params, handlers = handlers or {} }
  subs[sub] = true
  M.client()
  send_subscribe(sub)
  return sub
end

function M.unsubscribe(sub)
  if sub.closed then return end
  sub.closed = true
  subs[sub] = nil
  if sub.remote then
    by_remote[sub.remote] = nil
    if client and client:is_connected() then client:request('unsubscribe', { subscription = sub.remote }) end
  end
end

local function on_notification(method, params)
  if type(params) ~= 'table' then return end
  if method == 'event' then
    local sub = by_remote[params.subscription]
    if not sub or sub.closed then return end
    if sub.last_seq and params.seq <= sub.last_seq then return end
    sub.last_seq = params.seq
    if sub.resume_seq and params.seq <= sub.resume_seq then M.replayed = M.replayed + 1 end
    sub.handlers.on_event(params)
  elseif method == 'subscription.dropped' then
    -- it fell behind: the kernel queues no more events for it; resume from where it was
    local sub = by_remote[params.subscription]
    if not sub then return end
    by_remote[params.subscription] = nil
    sub.last_seq = nonnull(params.last_seq) or sub.last_seq
    send_subscribe(sub)
  end
end

-- ------------------------------------------------------------------------------- connection

local function command_line()
  local cmd = { M.config.bin, 'serve', '--stdio' }
  if M.config.socket ~= false then
    vim.list_extend(cmd, { '--socket', M.config.socket or M.default_socket() })
  end
  vim.list_extend(cmd, M.config.args or {})
  return cmd
end

--- The RPC client, started on first use.
function M.client()
  if client then
    if client.state == 'stopped' then client:start() end
    return client
  end
  local opts = {
    retry_ms = M.config.retry_ms,
    on_notification = on_notification,
    on_connect = function(c)
      -- connected once the kernel answers (a spawned process may still be starting)
      c:request('initialize', { client = { name = M.config.client_name, version = '1' } }, function(err)
        if err then return end
        local again = M.state == 'reconnecting' or M.state == 'failed'
        M.state = 'connected'
        if again then M.reconnects = M.reconnects + 1 end
        changed()
      end)
      for sub in pairs(subs) do send_subscribe(sub) end
    end,
    on_disconnect = function(reason)
      by_remote = {}
      for sub in pairs(subs) do
        sub.remote = nil
        sub.inflight = false
      end
      if M.state ~= 'reconnecting' then
        M.state = 'reconnecting'
        notify('lost the kernel (' .. reason .. '); reconnecting', vim.log.levels.WARN)
      end
      changed()
    end,
    on_give_up = function(reason)
      local last = client and client.stderr_tail[#client.stderr_tail]
      if last then reason = reason .. ': ' .. last end
      by_remote = {}
      for sub in pairs(subs) do
        sub.remote = nil
        sub.inflight = false
      end
      if M.state ~= 'failed' then -- once per outage: each command says so too
        notify('cannot reach a kernel: ' .. reason .. '; the next command tries again', vim.log.levels.ERROR)
      end
      M.state = 'failed'
      changed()
    end,
  }
  if M.config.transport == 'socket' then
    opts.socket = M.config.socket or M.default_socket()
  else
    opts.cmd = command_line()
  end
  client = rpc.new(opts)
  client:start()
  return client
end

--- Sends a request; `callback(err, result)`.
function M.request(method, params, callback)
  return M.client():request(method, params, callback)
end

--- Starts the connection and the job table's subscription (idempotent).
function M.start()
  M.client()
  if not main_sub then
    main_sub = M.subscribe({ kinds = { 'job.created', 'job.status', 'job.progress' } }, {
      on_ready = function(_, resumed)
        if not resumed then load_jobs() end
      end,
      on_reset = load_jobs,
      on_event = apply_event,
    })
  end
end

--- Ends the connection (a spawned bridge exits; a kernel it started shuts down).
function M.stop()
  if main_sub then
    M.unsubscribe(main_sub)
    main_sub = nil
  end
  if client then
    client:stop()
    client = nil
  end
  M.state = 'idle'
end

--- setup{ bin, socket, transport, args, autostart, notify, client_name, recent, retry_ms }
function M.setup(opts)
  local new = vim.tbl_deep_extend('force', vim.deepcopy(defaults), opts or {})
  if client and not vim.deep_equal(new, M.config) then M.stop() end
  M.config = new
  if M.config.autostart then M.start() end
end

-- --------------------------------------------------------------------------------- commands

--- Splits a command line into argv the way a shell would quote it ('…', "…", \x), without a
--- shell: no variables, globs or pipes.
function M.split_args(line)
  local argv, cur, i, have = {}, {}, 1, false
  local quote = nil
  while i <= #line do
    local ch = line:sub(i, i)
    if quote == "'" then
      if ch == "'" then quote = nil else cur[#cur + 1] = ch end
    elseif quote == '"' then
      if ch == '"' then
        quote = nil
      elseif ch == '\\' and i < #line and line:sub(i + 1, i + 1):match('["\\$`]') then
        i = i + 1
        cur[#cur + 1] = line:sub(i, i)
      else
        cur[#cur + 1] = ch
      end
    elseif ch == "'" or ch == '"' then
      quote, have = ch, true
    elseif ch == '\\' and i < #line then
      i = i + 1
      cur[#cur + 1] = line:sub(i, i)
      have = true
    elseif ch:match('%s') then
      if have or #cur > 0 then argv[#argv + 1] = table.concat(cur) end
      cur, have = {}, false
    else
      cur[#cur + 1] = ch
      have = true
    end
    i = i + 1
  end
  if quote then error('unterminated ' .. quote .. ' in: ' .. line) end
  if have or #cur > 0 then argv[#argv + 1] = table.concat(cur) end
  return argv
end

--- Runs `argv` (a list, no shell) in `cwd` (default: the current directory) as a `command` job.
--- `callback(err, job)` is optional; by default the job id is reported.
function M.run(argv, cwd, callback)
  M.start()
  cwd = cwd or vim.loop.cwd()
  local line = table.concat(argv, ' ')
  M.request('enqueue', {
    type = 'command',
    payload = { argv = argv, cwd = cwd },
    max_attempts = 1,
  }, function(err, result)
    if err then
      notify('cannot run ' .. line .. ': ' .. M.error_text(err), vim.log.levels.ERROR)
      if callback then callback(err) end
      return
    end
    local job = result.job
    M.mine[job.id] = line
    M.last_job = job.id
    M.learn(job)
    -- its end may have been learnt from an event before this answer was read
    if M.jobs[job.id] then maybe_notify_end(M.jobs[job.id]) end
    if callback then
      callback(nil, job)
    else
      notify(('job %s: %s'):format(job.id, line))
    end
  end)
end

local function id_or_last(id)
  if id and id ~= '' then return id end
  if M.last_job then return M.last_job end
  notify('give a job id (no job was started from this editor yet)', vim.log.levels.ERROR)
  return nil
end
M.id_or_last = id_or_last

--- Cancels job `id` (and its descendants).
function M.cancel(id, callback)
  id = id_or_last(id)
  if not id then return end
  M.start()
  M.request('cancel', { id = id, reason = 'cancelled from Neovim' }, function(err, job)
    if err then
      notify('cannot cancel job ' .. id .. ': ' .. M.error_text(err), vim.log.levels.ERROR)
    else
      M.learn(job)
      if not callback then notify(('job %s: %s'):format(id, job.cancel_requested and job.status == 'running'
        and 'cancel requested' or job.status)) end
    end
    if callback then callback(err, job) end
  end)
end

--- Runs a failed, cancelled or partly successful job again.
function M.retry(id, callback)
  id = id_or_last(id)
  if not id then return end
  M.start()
  M.request('retry', { id = id }, function(err, job)
    if err then
      notify('cannot retry job ' .. id .. ': ' .. M.error_text(err), vim.log.levels.ERROR)
    else
      M.learn(job)
      notified[id] = nil
      if not callback then notify(('job %s: retrying (%s)'):format(id, job.status)) end
    end
    if callback then callback(err, job) end
  end)
end

function M.status()
  M.start()
  require('jobkernel.status').open()
end

function M.logs(id)
  id = id_or_last(id)
  if not id then return end
  M.start()
  return require('jobkernel.logs').open(id)
end

function M.quickfix(id, callback)
  id = id_or_last(id)
  if not id then return end
  M.start()
  require('jobkernel.quickfix').fill(id, callback)
end

--- Known job ids, newest first (for command completion).
function M.complete_ids(arglead)
  local ids = {}
  for id in pairs(M.jobs) do
    if vim.startswith(id, arglead or '') then ids[#ids + 1] = id end
  end
  table.sort(ids, function(a, b) return (tonumber(a) or 0) > (tonumber(b) or 0) end)
  return ids
end

--- The percentage a job reports, or nil.
function M.percent(job)
  local p = nonnull(job.progress)
  if type(p) ~= 'table' then return nil end
  local pct = nonnull(p.percent)
  if pct then return math.floor(pct + 0.5) end
  local cur, total = nonnull(p.current), nonnull(p.total)
  if cur and total and total > 0 then return math.floor(100 * cur / total + 0.5) end
  return nil
end

--- One line for a statusline: running jobs with their progress, and how many wait; '' when
--- nothing runs or waits. Cheap: it reads the job table and starts nothing.
function M.statusline()
  if M.state == 'reconnecting' then return 'jk: reconnecting…' end
  local running, waiting = {}, 0
  for _, job in pairs(M.jobs) do
    if job.status == 'running' then
      running[#running + 1] = job
    elseif job.status == 'pending' or job.status == 'scheduled' then
      waiting = waiting + 1
    end
  end
  if #running == 0 and waiting == 0 then return '' end
  table.sort(running, function(a, b) return (tonumber(a.id) or 0) < (tonumber(b.id) or 0) end)
  local parts = {}
  for i = 1, math.min(3, #running) do
    local pct = M.percent(running[i])
    parts[#parts + 1] = '#' .. running[i].id .. (pct and (' ' .. pct .. '%') or '')
  end
  if #running > 3 then parts[#parts + 1] = '…' end
  local text = 'jk: ' .. #running .. ' running'
  if #parts > 0 then text = text .. ' (' .. table.concat(parts, ', ') .. ')' end
  if waiting > 0 then text = text .. ', ' .. waiting .. ' waiting' end
  return text
end

return M
