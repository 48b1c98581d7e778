# quadflow CUDA targets: C++20 for nvcc (CMake 3.25 cannot request it through CUDA_STANDARD), the configured
# architectures (CMAKE_CUDA_ARCHITECTURES, from QUADFLOW_CUDA_ARCHITECTURES) and host-compiler warnings.
include_guard(GLOBAL)

function(quadflow_cuda_target target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20>
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra>)
  set_target_properties(${target} PROPERTIES CUDA_ARCHITECTURES "${CMAKE_CUDA_ARCHITECTURES}")
  target_link_libraries(${target} PRIVATE quadflow::quadflow)
endfunction()
