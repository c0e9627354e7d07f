# libFuzzer harnesses (configure with CC=clang -DPOCKET_FUZZ=ON). Each
# fuzz/fuzz_NAME.c defines pk_fuzz_NAME(); PK_FUZZ_MAIN adds the libFuzzer
# entry point. Run: build-fuzz/fuzz_gguf fuzz/corpus/gguf -max_total_time=300
file(GLOB PK_FUZZERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/fuzz_*.c)
set(PK_FUZZ_FLAGS -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer)
pk_library(pocket_fuzzlib)
target_compile_options(pocket_fuzzlib PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
foreach(src ${PK_FUZZERS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_compile_definitions(${name} PRIVATE PK_FUZZ_MAIN)
  target_compile_options(${name} PRIVATE ${PK_FUZZ_FLAGS})
  target_link_options(${name} PRIVATE ${PK_FUZZ_FLAGS})
  target_link_libraries(${name} PRIVATE pocket_fuzzlib)
endforeach()
