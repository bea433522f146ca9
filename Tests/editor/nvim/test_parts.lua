-- The plugin's parts in a headless Neovim: framing, argument splitting, error-line parsing, the
-- `socket` transport against a real kernel (and its reconnect), and a missing binary.
-- Driven by Tests/editor/test_nvim.py; prints "ok - …", then "ALL PASSED" (exit 0) or
-- "FAIL: …" (exit 1).

local uv = vim.loop
local BIN = assert(os.getenv('JOBKERNEL_BIN'), 'set JOBKERNEL_BIN')
local HOME = assert(os.getenv('JOBKERNEL_HOME'), 'set JOBKERNEL_HOME')
local SOCK = HOME .. '/kernel.sock'

local function say(s) io.stdout:write(s .. '\n') io.stdout:flush() end
local notes = {}
vim.notify = function(msg, level) notes[#notes + 1] = { msg = msg, level = level } end

local function check(cond, what, detail)
  if not cond then error('assertion failed: ' .. what .. (detail and ('\n  ' .. tostring(detail)) or ''), 2) end
  say('ok - ' .. what)
end

local function wait_for(what, pred, timeout)
  local last
  if not vim.wait(timeout or 10000, function() last = pred() return last and true or false end, 20) then
    local tail = {}
    for i = math.max(1, #notes - 5), #notes do tail[#tail + 1] = '  notify: ' .. notes[i].msg end
    error('timed out waiting for ' .. what .. '\n' .. table.concat(tail, '\n'), 2)
  end
  say('ok - ' .. what)
  return last
end

local started = {} -- kernels this script started, stopped at the end whatever happened

local function run()
  local rpc = require('jobkernel.rpc')
  local jk = require('jobkernel')
  local qf = require('jobkernel.quickfix')

  -- framing: split anywhere, several frames in one read, multibyte bodies counted in bytes
  local a = rpc.frame({ jsonrpc = '2.0', id = 1, result = 'ünïcode ✓' })
  local b = rpc.frame({ jsonrpc = '2.0', method = 'event', params = { seq = 2 } })
  local stream = a .. b
  for cut = 1, #stream - 1 do
    local got, rest = rpc.deframe(stream:sub(1, cut))
    local more, rest2 = rpc.deframe(rest .. stream:sub(cut + 1))
    vim.list_extend(got, more)
    if #got ~= 2 or rest2 ~= '' or vim.json.decode(got[1]).result ~= 'ünïcode ✓' then
      error('assertion failed: deframe after a cut at byte ' .. cut)
    end
  end
  check(true, 'Content-Length frames survive a split at every byte, multibyte bodies included')
  local extra = rpc.deframe('Content-Type: application/vscode-jsonrpc\r\nContent-Length: 2\r\n\r\n{}')
  check(#extra == 1 and extra[1] == '{}', 'other headers are allowed')
  check(not pcall(rpc.deframe, 'X-Nothing: 1\r\n\r\n{}'), 'a header block without Content-Length is an error')
  check(rpc.frame({ params = vim.empty_dict() }):find('{"params":{}}', 1, true), 'empty params encode as an object')

  -- :JobKernelRun argument splitting: shell quoting, no shell
  local cases = {
    { 'make -j4', { 'make', '-j4' } },
    { [[sh -c "echo a b; exit 2"]], { 'sh', '-c', 'echo a b; exit 2' } },
    { [[grep 'it''s' x]], { 'grep', 'its', 'x' } },
    { [[echo a\ b "" '' "q\"uote"]], { 'echo', 'a b', '', '', 'q"uote' } },
    { [[  spaced   out  ]], { 'spaced', 'out' } },
    { [[echo $HOME *.c | wc]], { 'echo', '$HOME', '*.c', '|', 'wc' } },
  }
  for _, c in ipairs(cases) do
    local got = jk.split_args(c[1])
    check(vim.deep_equal(got, c[2]), 'split_args ' .. c[1], vim.inspect(got))
  end
  check(not pcall(jk.split_args, [[echo "open]]), 'an unterminated quote is an error')

  -- what a job is: its label, else its command line, else its type (docs/promises.md §13)
  check(jk.describe({ type = 'command', label = 'build docs', payload = { argv = { 'make', 'docs' } } }) == 'build docs',
    'describe shows the label first')
  check(jk.describe({ type = 'command', label = vim.NIL, payload = { argv = { 'make', 'docs' } } }) == 'make docs',
    'describe shows the command line without a label')
  check(jk.describe({ type = 'thumb', label = vim.NIL, payload = {} }) == 'thumb', 'describe falls back on the type')

  -- error lines
  vim.fn.mkdir(HOME .. '/proj/src', 'p')
  vim.fn.writefile({ 'x' }, HOME .. '/proj/src/a.c')
  vim.fn.writefile({ 'x' }, HOME .. '/proj/tool.py')
  local p = qf.parse('src/a.c:12:7: error: nope', HOME .. '/proj')
  check(p.filename == HOME .. '/proj/src/a.c' and p.lnum == 12 and p.col == 7 and p.text == 'error: nope',
    'file:line:col: text (relative to the job\'s directory)', vim.inspect(p))
  p = qf.parse(HOME .. '/proj/src/a.c:3: warning: hm', '/elsewhere')
  check(p.filename == HOME .. '/proj/src/a.c' and p.lnum == 3 and p.col == 0, 'absolute file:line: text', vim.inspect(p))
  p = qf.parse('  File "tool.py", line 9, in <module>', HOME .. '/proj')
  check(p.filename == HOME .. '/proj/tool.py' and p.lnum == 9, 'Python traceback lines', vim.inspect(p))
  p = qf.parse('12:30:45 connection reset', HOME .. '/proj')
  check(p.filename == nil and p.text == '12:30:45 connection reset', 'a time is not a file position', vim.inspect(p))
  p = qf.parse('missing.c:1:1: error: x', HOME .. '/proj')
  check(p.filename == nil, 'a file that does not exist is not a jump target', vim.inspect(p))
  local items = qf.items(
    { id = '7', status = 'failed', payload = { argv = { 'make' }, cwd = HOME .. '/proj' }, error = { message = 'exit 2' } },
    {
      { level = 'info', message = 'building' },
      { level = 'info', message = 'src/a.c:1:2: warning: unused' },
      { level = 'error', message = 'boom' },
      { level = 'info', message = 'src/a.c:5:1: note only' },
    })
  check(#items == 3 and items[1].text == 'job 7 failed: exit 2' and items[2].type == 'W' and items[2].lnum == 1
    and items[3].text == 'boom' and items[3].type == 'E',
    'quickfix items: the error, warnings with a position, error lines; not plain output', vim.inspect(items))

  -- the socket transport: no process spawned; reconnects when the kernel restarts
  local function start_kernel()
    local k = {}
    started[#started + 1] = k
    local log = uv.fs_open(HOME .. '/kernel.log', 'a', tonumber('600', 8))
    k.handle, k.pid = uv.spawn(BIN, { args = { 'serve', '--socket', SOCK }, cwd = HOME, stdio = { nil, log, log } },
      function(code) k.exit = code end)
    assert(k.handle, tostring(k.pid))
    wait_for('a kernel at the socket', function() return uv.fs_stat(SOCK) ~= nil end)
    return k
  end
  local k = start_kernel()
  jk.setup({ bin = '/nonexistent', transport = 'socket', socket = SOCK, retry_ms = 100 })
  wait_for('transport = socket connects to the kernel', function() return jk.state == 'connected' end)
  check(jk.client().process == nil, 'and spawns nothing')
  local done
  jk.run({ 'echo', 'via-socket' }, HOME, function(err, job) done = err or job end)
  local job = wait_for('a job runs over the socket', function() return done end)
  check(job.id ~= nil, 'the enqueue answer has the job', vim.inspect(job))
  wait_for('its end is seen', function() return jk.jobs[job.id] and jk.jobs[job.id].status == 'success' end)
  -- :JobKernelRun expands % like other command lines, and runs in the current directory
  vim.cmd('edit ' .. vim.fn.fnameescape(HOME .. '/proj/src/a.c'))
  vim.cmd('cd ' .. vim.fn.fnameescape(HOME .. '/proj'))
  local before = jk.last_job
  vim.cmd('JobKernelRun wc -l %')
  local wc = wait_for(':JobKernelRun wc -l %', function() return jk.last_job ~= before and jk.last_job end)
  local argv = jk.jobs[wc].payload.argv
  check(#argv == 3 and argv[3]:match('src/a%.c$') and jk.jobs[wc].payload.cwd == HOME .. '/proj',
    '% expands to the current file; the job runs in the current directory', vim.inspect(jk.jobs[wc].payload))
  wait_for('and succeeds', function() return jk.jobs[wc].status == 'success' end)

  uv.kill(k.pid, 'sigterm')
  wait_for('the kernel stops', function() return k.exit ~= nil end)
  wait_for('the plugin notices', function() return jk.state == 'reconnecting' end)
  k = start_kernel()
  wait_for('and reconnects when the kernel is back', function() return jk.state == 'connected' and jk.reconnects == 1 end)
  done = nil
  jk.run({ 'echo', 'again' }, HOME, function(err, j) done = err or j end)
  local job2 = wait_for('jobs run again', function() return done end)
  check(tonumber(job2.id) == tonumber(wc) + 1, 'on the same database (the ids go on)', vim.inspect(job2))
  jk.stop()
  uv.kill(k.pid, 'sigterm')
  wait_for('the kernel stops', function() return k.exit ~= nil end)

  -- a binary that does not exist: a clear error, once, and the command fails
  notes = {}
  jk.setup({ bin = HOME .. '/no-such-jobkernel', autostart = false, retry_ms = 100 })
  local failed
  jk.run({ 'true' }, HOME, function(err) failed = err end)
  wait_for('a command fails when the binary is missing', function() return failed end)
  local told = 0
  for _, n in ipairs(notes) do
    if n.msg:find('cannot start ' .. HOME .. '/no-such-jobkernel', 1, true) and n.msg:find("setup{ bin", 1, true)
      and n.level == vim.log.levels.ERROR then told = told + 1 end
  end
  check(told >= 1, 'the user is told which binary is missing and how to set it', vim.inspect(notes))
  check(jk.state == 'failed' and jk.statusline():find('reconnecting', 1, true) == nil, 'the plugin gave up quietly')
end

local ok, err = xpcall(run, debug.traceback)
for _, k in ipairs(started) do
  if k.exit == nil and k.pid then pcall(uv.kill, k.pid, 'sigkill') end
end
if ok then
  say('ALL PASSED')
  vim.cmd('qall!')
else
  say('FAIL: ' .. tostring(err))
  vim.cmd('cquit 1')
end
