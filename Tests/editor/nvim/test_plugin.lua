-- The jobkernel Neovim plugin in a real (headless) Neovim against the real binary.
--
--   JOBKERNEL_BIN=… JOBKERNEL_HOME=<empty dir> nvim --headless -u NONE \
--     --cmd 'set rtp^=editors/nvim' --cmd 'runtime plugin/jobkernel.lua' -c 'luafile Tests/editor/nvim/test_plugin.lua'
--
-- Driven by Tests/editor/test_nvim.py. It starts "the user's kernel" (`jobkernel serve` on the
-- default paths under $JOBKERNEL_HOME), lets the plugin attach to it through `serve --stdio`, and
-- checks what a user sees: the status window changing as progress arrives, its keys, a followed
-- log, the quickfix list, notifications, the statusline, the same jobs from `jobkernel status` in
-- the shell, and resuming after the kernel restarts. Every wait is bounded. Any failed check
-- prints "FAIL: …" and exits Neovim with status 1; success prints "ALL PASSED" and exits 0.

local uv = vim.loop
local BIN = assert(os.getenv('JOBKERNEL_BIN'), 'set JOBKERNEL_BIN')
local HOME = assert(os.getenv('JOBKERNEL_HOME'), 'set JOBKERNEL_HOME')
local SOCK = HOME .. '/kernel.sock'
local WAIT = tonumber(os.getenv('JK_TEST_WAIT_MS') or '') or 10000

local out = io.stdout
local function say(s) out:write(s .. '\n') out:flush() end

-- ------------------------------------------------------------------------------ harness

local notes = {} -- every vim.notify: {msg, level}
vim.notify = function(msg, level)
  notes[#notes + 1] = { msg = msg, level = level }
end

local function context()
  local lines = {}
  for i = math.max(1, #notes - 8), #notes do lines[#lines + 1] = '  notify: ' .. notes[i].msg end
  return table.concat(lines, '\n')
end

local function check(cond, what, detail)
  if not cond then
    error('assertion failed: ' .. what .. (detail and ('\n  ' .. detail) or ''), 2)
  end
  say('ok - ' .. what)
end

local function wait_for(what, pred, timeout)
  local last
  local ok = vim.wait(timeout or WAIT, function()
    last = pred()
    return last and true or false
  end, 20)
  if not ok then
    error('timed out after ' .. (timeout or WAIT) .. ' ms waiting for ' .. what .. '\n' .. context(), 2)
  end
  say('ok - ' .. what)
  return last
end

local function shell(args)
  local cmd = { BIN }
  vim.list_extend(cmd, args)
  local text = vim.fn.system(cmd)
  return vim.v.shell_error, text
end

local function touch(name)
  local f = assert(io.open(HOME .. '/' .. name, 'w'))
  f:write('go\n')
  f:close()
end

local function write_file(name, text)
  local f = assert(io.open(HOME .. '/' .. name, 'w'))
  f:write(text)
  f:close()
end

local function buf_lines(buf)
  return vim.api.nvim_buf_get_lines(buf, 0, -1, false)
end

local function find_line(buf, pred)
  for n, line in ipairs(buf_lines(buf)) do
    if pred(line) then return line, n end
  end
  return nil
end

local function count_lines(buf, needle)
  local n = 0
  for _, line in ipairs(buf_lines(buf)) do
    if line:find(needle, 1, true) then n = n + 1 end
  end
  return n
end

local function noted(pattern)
  for _, n in ipairs(notes) do
    if n.msg:find(pattern) then return n end
  end
  return nil
end

-- "the user's kernel": `jobkernel serve` on the default database and socket
local kernels = {}
local function start_kernel(name)
  local log = uv.fs_open(HOME .. '/' .. name .. '.log', 'a', tonumber('600', 8))
  local handle, pid = uv.spawn(BIN, { args = { 'serve' }, cwd = HOME, stdio = { nil, log, log } }, function(code)
    kernels[name].exit = code
  end)
  assert(handle, 'cannot start the kernel: ' .. tostring(pid))
  kernels[name] = { handle = handle, pid = pid }
  wait_for('kernel ' .. name .. ' answers at the socket', function()
    return shell({ 'call', 'stats', '--socket', SOCK }) == 0
  end)
  return kernels[name]
end

local function stop_kernel(name)
  local k = kernels[name]
  uv.kill(k.pid, 'sigterm')
  wait_for('kernel ' .. name .. ' to exit 0 on SIGTERM', function() return k.exit ~= nil end)
  check(k.exit == 0, 'kernel ' .. name .. ' exited 0', 'exit ' .. tostring(k.exit))
end

local function status_json(id)
  local rc, text = shell({ 'status', id, '--json', '--socket', SOCK })
  if rc ~= 0 then return 'exit ' .. rc .. ': ' .. text end
  return vim.json.decode(text)
end

-- ------------------------------------------------------------------------------ the test

local function run()
  if os.getenv('JK_TEST_FORCE_FAIL') == '1' then
    check(1 == 2, 'a check that cannot hold (proves that failures are loud)')
  end
  vim.o.columns, vim.o.lines = 120, 40
  vim.cmd('cd ' .. vim.fn.fnameescape(HOME))
  write_file('job.sh', [[
echo '{"progress":{"current":1,"total":4,"phase":"one"}}'
echo "hello from the job"
while [ ! -e step2 ]; do sleep 0.05; done
echo '{"progress":{"current":3,"total":4,"phase":"three"}}'
echo "second line"
while [ ! -e step3 ]; do sleep 0.05; done
echo "src/main.c:3:5: error: expected ';' before '}' token" >&2
echo "plain failure text" >&2
exit 1
]])
  write_file('resume.sh', [[
echo "c-before"
while [ ! -e c-go ]; do sleep 0.05; done
echo "c-after"
]])
  vim.fn.mkdir(HOME .. '/src', 'p')
  write_file('src/main.c', 'int main(void)\n{\n    return 0\n}\n')

  -- :help jobkernel (a copy of the doc, so that helptags writes nothing into the repository)
  local plugin_doc = vim.api.nvim_get_runtime_file('doc/jobkernel.txt', false)[1]
  check(plugin_doc ~= nil, 'the plugin\'s doc/jobkernel.txt is on the runtimepath')
  vim.fn.mkdir(HOME .. '/rtp/doc', 'p')
  vim.fn.writefile(vim.fn.readfile(plugin_doc), HOME .. '/rtp/doc/jobkernel.txt')
  vim.cmd('helptags ' .. vim.fn.fnameescape(HOME .. '/rtp/doc'))
  vim.opt.runtimepath:prepend(HOME .. '/rtp')
  for _, topic in ipairs({ 'jobkernel', ':JobKernelRun', ':JobKernelQuickfix', 'jobkernel-statusline' }) do
    vim.cmd('help ' .. topic)
    check(vim.bo.filetype == 'help' and vim.fn.expand('%:t') == 'jobkernel.txt', ':help ' .. topic)
    vim.cmd('helpclose')
  end

  start_kernel('k1')
  local jk = require('jobkernel')
  -- a slow first retry, so that the test can restart the kernel before the plugin comes back
  jk.setup({ bin = BIN, retry_ms = 2500 })
  wait_for('the plugin is connected', function() return jk.state == 'connected' end)
  wait_for('the bridge says it attached to the running kernel', function()
    return table.concat(jk.client().stderr_tail, '\n'):find('attached to the running kernel', 1, true)
  end)
  check(jk.statusline() == '', 'the statusline is empty with nothing running', jk.statusline())

  -- :JobKernelRun reports the job id
  vim.cmd('JobKernelRun sh job.sh')
  local a = wait_for(':JobKernelRun reports the job id', function() return jk.last_job end)
  check(noted('^jobkernel: job ' .. a .. ': sh job%.sh$') ~= nil, 'the id is reported as a notification', context())

  -- the status window, live
  vim.cmd('JobKernelStatus')
  local status = require('jobkernel.status')
  local win = vim.api.nvim_get_current_win()
  check(vim.api.nvim_win_get_config(win).relative == 'editor', ':JobKernelStatus opens a floating window')
  local sbuf = vim.api.nvim_win_get_buf(win)
  local row = wait_for('the status window shows the job at 25% in phase one', function()
    return find_line(sbuf, function(l) return vim.startswith(l, a .. ' ') and l:find('25%', 1, true) and l:find('one') end)
  end)
  check(row:find('running', 1, true) and row:find('[####------------]', 1, true), 'with a bar a quarter full', row)
  check(jk.statusline():find('#' .. a .. ' 25%', 1, true), 'the statusline shows the running job and its progress', jk.statusline())

  -- the shell sees the same job
  local sj = status_json(a)
  check(type(sj) == 'table' and sj.id == a and sj.status == 'running' and sj.created_by == 'nvim',
    '`jobkernel status` in the shell sees the same job, started by nvim', vim.inspect(sj))

  touch('step2')
  row = wait_for('the status window changes as progress arrives: 75% in phase three', function()
    return find_line(sbuf, function(l) return vim.startswith(l, a .. ' ') and l:find('75%', 1, true) and l:find('three') end)
  end)
  check(row:find('[############----]', 1, true), 'the bar grew to three quarters', row)
  check(vim.api.nvim_get_current_win() == win, 'the status window kept the focus while it changed')

  -- l on the job's line opens its log, following it
  check(status.select(a), 'the job has a line in the status window')
  vim.cmd('normal l')
  local lbuf = vim.api.nvim_get_current_buf()
  check(vim.api.nvim_buf_get_name(lbuf):find('jobkernel://logs/' .. a, 1, true), 'l opens the job\'s log buffer',
    vim.api.nvim_buf_get_name(lbuf))
  check(not status.is_open(), 'and closes the status window')
  wait_for('the log shows the lines logged before it was opened', function()
    return find_line(lbuf, function(l) return l:find('info  hello from the job', 1, true) end)
      and find_line(lbuf, function(l) return l:find('second line', 1, true) end)
  end)
  touch('step3')
  wait_for('the log follows live to the job\'s end', function()
    return find_line(lbuf, function(l) return l:find('-- job ' .. a .. ' failed', 1, true) end)
  end)
  check(find_line(lbuf, function(l) return l:find('error plain failure text', 1, true) end),
    'stderr lines show at level error')
  check(count_lines(lbuf, 'hello from the job') == 1 and count_lines(lbuf, 'second line') == 1,
    'each log line shows once')
  check(vim.api.nvim_win_get_cursor(0)[1] == vim.api.nvim_buf_line_count(lbuf), 'the cursor follows the last line')

  -- a notification when a job the user started ends
  local n = wait_for('a notification says the job failed', function()
    return noted('^jobkernel: job ' .. a .. ' %(sh job%.sh%) failed')
  end)
  check(n.level == vim.log.levels.ERROR, 'at level ERROR')

  -- the quickfix list
  vim.cmd('JobKernelQuickfix ' .. a)
  local qf = wait_for('the quickfix list is filled', function()
    local items = vim.fn.getqflist()
    return #items > 0 and items
  end)
  local title = vim.fn.getqflist({ title = 1 }).title
  check(title:find('jobkernel job ' .. a, 1, true), 'its title names the job', title)
  check(qf[1].text:find('job ' .. a .. ' failed', 1, true) and qf[1].type == 'E', 'the job\'s error comes first', qf[1].text)
  local located
  for _, item in ipairs(qf) do
    if item.bufnr ~= 0 then located = item end
  end
  check(located and vim.api.nvim_buf_get_name(located.bufnr) == HOME .. '/src/main.c' and located.lnum == 3
    and located.col == 5 and located.text:find('expected', 1, true) and located.type == 'E',
    'the compiler line is parsed as file:line:col', located and vim.inspect(located))
  local plain = false
  for _, item in ipairs(qf) do
    if item.text:find('plain failure text', 1, true) and item.bufnr == 0 then plain = true end
  end
  check(plain, 'an error line without a position is kept as text')
  vim.cmd('cclose')

  -- cancel and retry from the status window's keys
  vim.cmd('JobKernelRun sleep 30')
  local b = wait_for('a second job', function() return jk.last_job ~= a and jk.last_job end)
  vim.cmd('JobKernelStatus')
  wait_for('the second job runs', function()
    return find_line(sbuf, function(l) return vim.startswith(l, b .. ' ') and l:find('running', 1, true) end)
  end)
  check(status.select(b), 'the second job has a line')
  vim.cmd('normal c')
  wait_for('c cancels the job under the cursor', function()
    return find_line(sbuf, function(l) return vim.startswith(l, b .. ' ') and l:find('cancelled', 1, true) end)
  end)
  sj = status_json(b)
  check(type(sj) == 'table' and sj.status == 'cancelled', 'the shell sees it cancelled', vim.inspect(sj))
  check(status.select(b), 'the cancelled job keeps its line')
  vim.cmd('normal r')
  wait_for('r retries it: it runs again', function()
    local job = jk.jobs[b]
    return job and job.status == 'running' and find_line(sbuf, function(l)
      return vim.startswith(l, b .. ' ') and l:find('running', 1, true)
    end)
  end)
  vim.cmd('normal q')
  check(not status.is_open(), 'q closes the status window')
  vim.cmd('JobKernelCancel ' .. b)
  wait_for(':JobKernelCancel cancels it', function() return jk.jobs[b] and jk.jobs[b].status == 'cancelled' end)
  wait_for('a notification says it was cancelled', function()
    return noted('^jobkernel: job ' .. b .. ' %(sleep 30%) cancelled')
  end)

  -- resume after a restart of the kernel
  vim.cmd('JobKernelRun sh resume.sh')
  local c = wait_for('a third job', function() return jk.last_job ~= b and jk.last_job end)
  vim.cmd('JobKernelLogs ' .. c)
  local cbuf = vim.api.nvim_get_current_buf()
  wait_for('its log shows c-before', function() return count_lines(cbuf, 'c-before') == 1 end)
  vim.cmd('JobKernelStatus')

  stop_kernel('k1')
  wait_for('the plugin says it is reconnecting', function()
    return jk.state == 'reconnecting' and noted('reconnecting') and jk.statusline():find('reconnecting', 1, true)
  end)
  start_kernel('k2')
  -- a job enqueued from the shell while the plugin is away: it comes back through `since`
  local rc, text = shell({ 'run', '--socket', SOCK, '--', 'echo', 'from-the-shell' })
  check(rc == 0, 'the shell runs a job on the restarted kernel', text)
  local listed
  rc, listed = shell({ 'call', 'list', '{"limit":1}', '--socket', SOCK })
  check(rc == 0, 'the shell lists it', listed)
  local shell_job = vim.json.decode(listed).jobs[1].id
  check(jk.state == 'reconnecting', 'precondition: the plugin was still away when the shell ran it', jk.state)
  wait_for('the plugin attaches to the restarted kernel', function() return jk.state == 'connected' end)
  check(jk.reconnects == 1, 'one reconnect')
  wait_for('the shell\'s job reaches the plugin as a replay (subscribe with since)', function()
    return jk.jobs[shell_job] and jk.jobs[shell_job].status == 'success' and jk.replayed > 0
  end)
  wait_for('the status window shows it', function()
    return find_line(sbuf, function(l) return vim.startswith(l, shell_job .. ' ') and l:find('echo from-the-shell', 1, true) end)
  end)
  -- :JobKernelLogs from inside the floating window: the shell's job, finished, read to its end
  check(vim.api.nvim_win_get_config(0).relative == 'editor', 'the status window has the focus')
  vim.cmd('JobKernelLogs ' .. shell_job)
  local shbuf = vim.api.nvim_get_current_buf()
  check(vim.api.nvim_win_get_config(0).relative == '' and vim.api.nvim_buf_get_name(shbuf):find('logs/' .. shell_job, 1, true),
    ':JobKernelLogs from the float opens a normal split')
  wait_for('the shell job\'s log, to its end', function()
    return find_line(shbuf, function(l) return l:find('info  from-the-shell', 1, true) end)
      and find_line(shbuf, function(l) return l:find('-- job ' .. shell_job .. ' success --', 1, true) end)
  end)
  vim.cmd('bwipeout')

  -- the interrupted job runs again on the new kernel, and its log carries on in the same buffer
  wait_for('the followed log carries on with the second run', function() return count_lines(cbuf, 'c-before') == 2 end)
  touch('c-go')
  wait_for('the job ends success after the restart', function()
    return find_line(cbuf, function(l) return l:find('-- job ' .. c .. ' success', 1, true) end)
  end)
  check(count_lines(cbuf, 'c-after') == 1, 'each line once across the restart')
  wait_for('a notification says it succeeded', function()
    local note = noted('^jobkernel: job ' .. c .. ' %(sh resume%.sh%) success')
    return note and note.level == vim.log.levels.INFO
  end)

  -- a job that logs fast, half before the log is opened and half after: every line once, in order
  vim.cmd([[JobKernelRun sh -c "seq 1 1500; sleep 0.5; seq 1501 3000"]])
  local e = wait_for('a job that logs 3000 lines', function() return jk.last_job ~= c and jk.last_job end)
  vim.cmd('JobKernelLogs ' .. e)
  local ebuf = vim.api.nvim_get_current_buf()
  wait_for('its log buffer reaches the end', function()
    return find_line(ebuf, function(l) return l:find('-- job ' .. e .. ' success --', 1, true) end)
  end, 30000)
  local numbers = {}
  for _, l in ipairs(buf_lines(ebuf)) do
    local n = l:match(' info  (%d+)$')
    if n then numbers[#numbers + 1] = tonumber(n) end
  end
  local in_order = #numbers == 3000
  for i = 1, #numbers do in_order = in_order and numbers[i] == i end
  check(in_order, 'all 3000 lines, each once, in order', #numbers .. ' numbered lines')
  vim.cmd('bwipeout')

  -- the owner goes away and nobody restarts it: the plugin's respawn becomes the owner
  stop_kernel('k2')
  wait_for('the plugin comes back on its own', function() return jk.state == 'connected' and jk.reconnects == 2 end, 20000)
  check(not table.concat(jk.client().stderr_tail, '\n'):find('attached', 1, true),
    'this time it owns the database itself', table.concat(jk.client().stderr_tail, '\n'))
  sj = status_json(a)
  check(type(sj) == 'table' and sj.id == a and sj.status == 'failed', 'and serves the socket: the shell sees the jobs', vim.inspect(sj))
  vim.cmd('JobKernelRun echo owned')
  local d = wait_for('a job on the editor\'s own kernel', function() return jk.last_job ~= e and jk.last_job end)
  wait_for('it ends success', function() return noted('^jobkernel: job ' .. d .. ' %(echo owned%) success') end)

  -- leaving: the editor's kernel shuts down gracefully (it removes its socket)
  jk.stop()
  wait_for('the editor\'s kernel shuts down when the plugin stops', function() return uv.fs_stat(SOCK) == nil end)
end

local ok, err = xpcall(run, debug.traceback)
for _, k in pairs(kernels) do
  if k.exit == nil then pcall(uv.kill, k.pid, 'sigkill') end
end
if ok then
  say('ALL PASSED')
  vim.cmd('qall!')
else
  say('FAIL: ' .. tostring(err))
  vim.cmd('cquit 1')
end
