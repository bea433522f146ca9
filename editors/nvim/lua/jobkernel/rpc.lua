-- JSON-RPC 2.0 over Content-Length framing (the framing LSP uses) to a jobkernel.
--
-- Transport: by default the plugin spawns `jobkernel serve --stdio`, which attaches to the kernel
-- that owns the user's database (or becomes that kernel when none runs). With `socket` set it
-- connects to that Unix socket instead. Either way, when the connection ends (the kernel
-- restarted, the bridge exited) the client connects again with backoff and calls `on_connect`,
-- so that subscriptions resume with `since`.
--
-- Neovim >= 0.7: vim.loop and vim.json only.

local uv = vim.loop

local M = {}

local Client = {}
Client.__index = Client

local function now_ms()
  return uv.now()
end

--- A client; nothing runs until `start()`.
--- opts: cmd (argv list) or socket (path); env (list of "K=V" or nil); cwd;
---       on_notification(method, params); on_connect(client); on_disconnect(reason);
---       on_give_up(reason); retry_ms (the first delay before connecting again, doubling after
---       each connection that ended unanswered, at most 5 s or retry_ms)
function M.new(opts)
  local self = setmetatable({}, Client)
  self.opts = opts
  self.next_id = 1
  self.pending = {} -- id -> callback(err, result)
  self.outbox = {} -- frames written while not connected
  self.state = 'stopped' -- 'stopped' | 'connecting' | 'connected' | 'waiting'
  self.buffer = ''
  self.generation = 0 -- bumps on every (re)connect: callbacks of an old transport are ignored
  self.failures = 0 -- connections in a row that ended before any answer came
  self.stderr_tail = {}
  self.connects = 0
  return self
end

--- Encodes one message in Content-Length framing.
function M.frame(msg)
  local body = vim.json.encode(msg)
  return 'Content-Length: ' .. #body .. '\r\n\r\n' .. body
end

--- Splits complete frames off the front of `buffer`: returns bodies and the rest.
--- Errors on a header block without Content-Length (the stream cannot be resynchronised).
function M.deframe(buffer)
  local bodies = {}
  while true do
    local header_end = buffer:find('\r\n\r\n', 1, true)
    if not header_end then break end
    local headers = buffer:sub(1, header_end - 1)
    local length = headers:lower():match('content%-length:%s*(%d+)')
    if not length then
      error('jobkernel: the kernel sent a frame without Content-Length: ' .. headers:sub(1, 80))
    end
    length = tonumber(length)
    local body_start = header_end + 4
    if #buffer < body_start + length - 1 then break end
    bodies[#bodies + 1] = buffer:sub(body_start, body_start + length - 1)
    buffer = buffer:sub(body_start + length)
  end
  return bodies, buffer
end

function Client:is_connected()
  return self.state == 'connected'
end

--- Connects (spawns the bridge, or connects to the socket). Idempotent.
function Client:start()
  if self.state ~= 'stopped' then return end
  self.stopping = false
  self:connect()
end

--- Ends the connection for good; pending calls fail.
function Client:stop()
  self.stopping = true
  self.state = 'stopped'
  self:teardown('stopped')
  if self.retry_timer then
    self.retry_timer:stop()
    self.retry_timer:close()
    self.retry_timer = nil
  end
end

function Client:connect()
  self.generation = self.generation + 1
  local gen = self.generation
  self.state = 'connecting'
  self.buffer = ''
  self.answered = false
  self.stderr_tail = {}
  local opts = self.opts
  if opts.socket then
    local pipe = uv.new_pipe(false)
    self.pipe = pipe
    pipe:connect(opts.socket, vim.schedule_wrap(function(err)
      if gen ~= self.generation then return end
      if err then
        self:ended('cannot connect to ' .. opts.socket .. ': ' .. tostring(err))
        return
      end
      self:read_from(pipe, gen)
      self:connected()
    end))
    return
  end

  local stdin, stdout, stderr = uv.new_pipe(false), uv.new_pipe(false), uv.new_pipe(false)
  local args = {}
  for i = 2, #opts.cmd do args[#args + 1] = opts.cmd[i] end
  local handle, pid_or_err
  handle, pid_or_err = uv.spawn(opts.cmd[1], {
    args = args,
    stdio = { stdin, stdout, stderr },
    env = opts.env,
    cwd = opts.cwd,
  }, vim.schedule_wrap(function(code, signal)
    if handle and not handle:is_closing() then handle:close() end
    if gen ~= self.generation then return end
    self.exit_code = code
    self.exit_signal = signal
    self.process_exited = true
    self:maybe_ended()
  end))
  if not handle then
    for _, p in ipairs({ stdin, stdout, stderr }) do p:close() end
    self:ended('cannot start ' .. table.concat(opts.cmd, ' ') .. ': ' .. tostring(pid_or_err)
      .. " (set require('jobkernel').setup{ bin = '/path/to/jobkernel' })", true)
    return
  end
  self.process = handle
  self.pid = pid_or_err
  self.pipe = stdin
  self.stdout = stdout
  self.stderr = stderr
  self.process_exited = false
  self.stdout_eof = false
  self:read_from(stdout, gen)
  stderr:read_start(vim.schedule_wrap(function(_, data)
    if gen ~= self.generation or not data then return end
    for line in data:gmatch('[^\n]+') do
      table.insert(self.stderr_tail, line)
      if #self.stderr_tail > 20 then table.remove(self.stderr_tail, 1) end
    end
  end))
  self:connected()
end

function Client:read_from(pipe, gen)
  pipe:read_start(vim.schedule_wrap(function(err, data)
    if gen ~= self.generation then return end
    if err or not data then
      self.stdout_eof = true
      if self.opts.socket then
        self:ended(err and ('read error: ' .. tostring(err)) or 'the kernel closed the connection')
      else
        self:maybe_ended()
      end
      return
    end
    self.buffer = self.buffer .. data
    local ok, bodies, rest = pcall(M.deframe, self.buffer)
    if not ok then
      self:ended(bodies)
      return
    end
    self.buffer = rest
    for _, body in ipairs(bodies) do
      local decoded_ok, msg = pcall(vim.json.decode, body, { luanil = { object = true } })
      if decoded_ok then
        self:dispatch(msg)
        if gen ~= self.generation then return end
      end
    end
  end))
end

function Client:connected()
  self.state = 'connected'
  self.connects = self.connects + 1
  local outbox = self.outbox
  self.outbox = {}
  if self.opts.on_connect then self.opts.on_connect(self) end
  for _, frame in ipairs(outbox) do self:write(frame) end
end

-- The spawned bridge ends when both its stdout closed and the process exited.
function Client:maybe_ended()
  if self.process_exited and self.stdout_eof then
    local how = self.exit_signal and self.exit_signal ~= 0 and ('signal ' .. self.exit_signal)
      or ('exit ' .. tostring(self.exit_code))
    self:ended('the kernel process ended (' .. how .. ')')
  end
end

function Client:teardown(reason)
  local pending = self.pending
  self.pending = {}
  -- every request not answered fails, once: those still in the outbox are never sent
  self.outbox = {}
  for _, h in ipairs({ self.pipe, self.stdout, self.stderr }) do
    if h and not h:is_closing() then h:close() end
  end
  self.pipe, self.stdout, self.stderr = nil, nil, nil
  -- closing stdin (above) is how a stdio kernel, or a bridge, is asked to finish; the exit
  -- callback closes the process handle
  self.process = nil
  for _, cb in pairs(pending) do
    cb({ code = -32000, message = 'the connection to the kernel ended (' .. reason .. ')' })
  end
end

--- The connection ended: fail what is pending and, unless stopped, connect again with backoff.
function Client:ended(reason, fatal)
  if self.state == 'stopped' or self.state == 'waiting' then return end
  self.generation = self.generation + 1
  self.state = 'waiting'
  self.last_error = reason
  if not self.answered then self.failures = self.failures + 1 else self.failures = 0 end
  self:teardown(reason)
  if self.stopping then
    self.state = 'stopped'
    return
  end
  if fatal or self.failures >= (self.opts.max_failures or 8) then
    self.state = 'stopped'
    if self.opts.on_give_up then self.opts.on_give_up(reason) end
    return
  end
  if self.opts.on_disconnect then self.opts.on_disconnect(reason) end
  local first = self.opts.retry_ms or 200
  local delay = math.min(math.max(5000, first), first * 2 ^ math.max(0, self.failures - 1))
  self.retry_timer = self.retry_timer or uv.new_timer()
  self.retry_timer:start(delay, 0, vim.schedule_wrap(function()
    if self.state == 'waiting' and not self.stopping then self:connect() end
  end))
end

function Client:write(frame)
  if self.state ~= 'connected' or not self.pipe then
    self.outbox[#self.outbox + 1] = frame
    if self.state == 'stopped' then self:start() end
    return
  end
  self.pipe:write(frame)
end

function Client:dispatch(msg)
  if type(msg) ~= 'table' then return end
  if msg.method then
    if msg.id == nil and self.opts.on_notification then
      self.opts.on_notification(msg.method, msg.params)
    end
    return
  end
  if msg.id == nil then return end
  self.answered = true
  self.failures = 0
  local cb = self.pending[msg.id]
  if not cb then return end
  self.pending[msg.id] = nil
  if msg.error then
    cb(msg.error, nil)
  else
    cb(nil, msg.result)
  end
end

--- Sends a request; `callback(err, result)` runs on the main loop. `params` nil sends `{}`.
function Client:request(method, params, callback)
  local id = self.next_id
  self.next_id = id + 1
  self.pending[id] = callback or function() end
  self:write(M.frame({ jsonrpc = '2.0', id = id, method = method, params = params or vim.empty_dict() }))
  return id
end

--- Sends a request and waits for its answer (at most `timeout_ms`); returns result, err.
function Client:request_sync(method, params, timeout_ms)
  local done, result, err = false, nil, nil
  self:request(method, params, function(e, r)
    done, err, result = true, e, r
  end)
  if not vim.wait(timeout_ms or 10000, function() return done end, 10) then
    return nil, { code = -32000, message = method .. ': no answer from the kernel within ' .. (timeout_ms or 10000) .. ' ms' }
  end
  return result, err
end

M.now_ms = now_ms

return M
