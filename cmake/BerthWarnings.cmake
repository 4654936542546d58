# Project code builds with warnings as errors; generated code does not.
# Under clang, -Wthread-safety checks the locking annotations
# (berth/thread_annotations.h); scripts/clang_check.sh runs that build in CI.
function(berth_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror
                         -Wno-unused-parameter)
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    target_compile_options(${target} PRIVATE -Wthread-safety)
  endif()
endfunction()
