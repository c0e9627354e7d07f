# Every tests/test_*.c is one test program, built twice: against the release
# library and against the ASan+UBSan one (name suffix _asan). Tests find
# ../shared through POCKET_SHARED and the source tree through POCKET_SRC.
file(GLOB PK_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/test_*.c)
# the fuzz harnesses are linked into the corpus replay test
file(GLOB PK_FUZZ_HARNESS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/fuzz_*.c)
get_filename_component(PK_SHARED ${CMAKE_SOURCE_DIR}/../shared ABSOLUTE)
set(PK_TEST_ENV "POCKET_SHARED=${PK_SHARED};POCKET_SRC=${CMAKE_SOURCE_DIR};POCKET_BIN=${CMAKE_BINARY_DIR};POCKET_CLI=$<TARGET_FILE:pocket>")
foreach(src ${PK_TESTS})
  get_filename_component(name ${src} NAME_WE)
  set(extra)
  if(name STREQUAL "test_fuzz_replay")
    set(extra ${PK_FUZZ_HARNESS})
  endif()
  add_executable(${name} ${src} ${extra})
  target_compile_options(${name} PRIVATE ${PK_WARN})
  target_link_libraries(${name} PRIVATE pocket_lib)
  add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${PK_TEST_ENV}" TIMEOUT 600)
  if(POCKET_SANITIZE_TESTS)
    add_executable(${name}_asan ${src} ${extra})
    target_compile_options(${name}_asan PRIVATE ${PK_WARN} ${PK_SAN_FLAGS})
    target_link_libraries(${name}_asan PRIVATE pocket_asan)
    add_test(NAME ${name}_asan COMMAND ${name}_asan WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    set_tests_properties(${name}_asan PROPERTIES
      ENVIRONMENT "${PK_TEST_ENV};ASAN_OPTIONS=detect_leaks=1:abort_on_error=0;UBSAN_OPTIONS=print_stacktrace=1"
      LABELS asan TIMEOUT 900)
  endif()
endforeach()

# On an AVX-512 VNNI CPU the dispatched quantized GEMMs are the AVX-512
# ones, on an AVX-VNNI CPU the q4_0 and k-quant ones are the VNNI ones; run
# the GEMM tests again on the AVX-VNNI kernels and on the AVX2 ones
# (elsewhere these repeat the same run).
add_test(NAME test_gemm_no_avx512 COMMAND test_gemm WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(test_gemm_no_avx512 PROPERTIES ENVIRONMENT "${PK_TEST_ENV};POCKET_NO_AVX512=1" TIMEOUT 600)
add_test(NAME test_gemm_no_avxvnni COMMAND test_gemm WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(test_gemm_no_avxvnni PROPERTIES
  ENVIRONMENT "${PK_TEST_ENV};POCKET_NO_AVX512=1;POCKET_NO_AVXVNNI=1" TIMEOUT 600)

# Shell-level tests (CLI behaviour, cross builds): tests/test_*.sh
file(GLOB PK_SH_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/test_*.sh)
foreach(src ${PK_SH_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_test(NAME ${name}_sh COMMAND bash ${src} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(${name}_sh PROPERTIES ENVIRONMENT "${PK_TEST_ENV}" TIMEOUT 1200 SKIP_RETURN_CODE 77)
endforeach()
