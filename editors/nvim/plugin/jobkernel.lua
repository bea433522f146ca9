-- jobkernel commands (see :help jobkernel). Neovim >= 0.7.
if vim.g.loaded_jobkernel then return end
vim.g.loaded_jobkernel = true

if vim.fn.has('nvim-0.7') == 0 then
  vim.api.nvim_echo({ { 'jobkernel: Neovim 0.7 or later is needed', 'ErrorMsg' } }, true, {})
  return
end

local function jk()
  return require('jobkernel')
end

local function complete_ids(arglead)
  return jk().complete_ids(arglead)
end

vim.api.nvim_create_user_command('JobKernelRun', function(opts)
  -- %, # and <cword> expand as on Vim's own command lines; quoting follows the shell's rules,
  -- but nothing runs through a shell
  local ok, argv = pcall(jk().split_args, vim.fn.expandcmd(opts.args))
  if not ok then
    jk().notify(tostring(argv), vim.log.levels.ERROR)
    return
  end
  if #argv == 0 then
    jk().notify('usage: :JobKernelRun {cmd} [args…]', vim.log.levels.ERROR)
    return
  end
  jk().run(argv)
end, { nargs = '+', complete = 'shellcmd', desc = 'Run a command (no shell) as a jobkernel job in the current directory' })

vim.api.nvim_create_user_command('JobKernelStatus', function()
  jk().status()
end, { nargs = 0, desc = 'jobkernel: running, waiting and recent jobs, live' })

vim.api.nvim_create_user_command('JobKernelLogs', function(opts)
  jk().logs(opts.args)
end, { nargs = '?', complete = complete_ids, desc = "jobkernel: follow a job's log" })

vim.api.nvim_create_user_command('JobKernelCancel', function(opts)
  jk().cancel(opts.args)
end, { nargs = '?', complete = complete_ids, desc = 'jobkernel: cancel a job' })

vim.api.nvim_create_user_command('JobKernelRetry', function(opts)
  jk().retry(opts.args)
end, { nargs = '?', complete = complete_ids, desc = 'jobkernel: run a failed or cancelled job again' })

vim.api.nvim_create_user_command('JobKernelQuickfix', function(opts)
  jk().quickfix(opts.args)
end, { nargs = '?', complete = complete_ids, desc = "jobkernel: a failed job's errors in the quickfix list" })

vim.api.nvim_create_autocmd('VimLeavePre', {
  callback = function()
    if package.loaded['jobkernel'] then jk().stop() end
  end,
})
