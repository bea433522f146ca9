" A jobkernel log buffer (:JobKernelLogs): `time level message` lines and `-- … --` notes.
if exists('b:current_syntax') | finish | endif
syntax match jobkernelLogTime /^\d\d:\d\d:\d\d\%(\.\d\+\)\?/ nextgroup=jobkernelLogError,jobkernelLogWarn,jobkernelLogInfo skipwhite
syntax match jobkernelLogError /error\s.*$/ contained
syntax match jobkernelLogWarn /warn\s.*$/ contained
syntax match jobkernelLogInfo /\%(info\|debug\)\s/ contained
syntax match jobkernelLogNote /^-- .* --$/
highlight default link jobkernelLogTime Comment
highlight default link jobkernelLogError ErrorMsg
highlight default link jobkernelLogWarn WarningMsg
highlight default link jobkernelLogInfo Identifier
highlight default link jobkernelLogNote Title
let b:current_syntax = 'jobkernel-log'
