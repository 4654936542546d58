# Project code builds with warnings as errors; generated code does not.
function(berth_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror
                         -Wno-unused-parameter)
endfunction()
