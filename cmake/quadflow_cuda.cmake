# quadflow CUDA targets: quadflow::cuda (C++20 for nvcc), the configured architectures (CMAKE_CUDA_ARCHITECTURES,
# from QUADFLOW_CUDA_ARCHITECTURES) and the project's warnings.
include_guard(GLOBAL)

function(quadflow_cuda_target target)
  set_target_properties(${target} PROPERTIES CUDA_ARCHITECTURES "${CMAKE_CUDA_ARCHITECTURES}")
  target_link_libraries(${target} PRIVATE quadflow::cuda quadflow_warnings)
endfunction()
