" The jobkernel status window (:JobKernelStatus).
if exists('b:current_syntax') | finish | endif
syntax match jobkernelStatusTitle /\%1l.*/
syntax match jobkernelStatusKeys /\%2l.*/
syntax match jobkernelStatusBar /\[[#-]\+\]/
syntax keyword jobkernelStatusRunning running cancelling
syntax keyword jobkernelStatusWaiting pending scheduled
syntax keyword jobkernelStatusSuccess success
syntax keyword jobkernelStatusFailed failed partial
syntax keyword jobkernelStatusCancelled cancelled skipped
syntax match jobkernelStatusError /  ! .*$/
highlight default link jobkernelStatusTitle Title
highlight default link jobkernelStatusKeys Comment
highlight default link jobkernelStatusBar Special
highlight default link jobkernelStatusRunning Identifier
highlight default link jobkernelStatusWaiting Comment
highlight default link jobkernelStatusSuccess String
highlight default link jobkernelStatusFailed ErrorMsg
highlight default link jobkernelStatusCancelled WarningMsg
highlight default link jobkernelStatusError ErrorMsg
let b:current_syntax = 'jobkernel-status'
