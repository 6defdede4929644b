# Included by tests/CMakeLists.txt. The npy suite compiles the reader/writer from cli/; the golden
# tests of the fkm command run tests/cli_test.sh, one CTest test per case.
if(TARGET test_npy)
  target_sources(test_npy PRIVATE ${PROJECT_SOURCE_DIR}/cli/npy.c
    ${PROJECT_SOURCE_DIR}/cli/npy_header.c)
endif()

if(TARGET test_bench_check)
  target_link_libraries(test_bench_check PRIVATE fkm_bench_check)
endif()

if(TARGET fkm_cli)
  # Preloaded by the cases that fail one output's rename (tests/fail_rename.c).
  add_library(fail_rename MODULE ${CMAKE_CURRENT_SOURCE_DIR}/fail_rename.c)
  target_link_libraries(fail_rename PRIVATE ${CMAKE_DL_LIBS})
  set(FKM_CLI_CASES version help run run_given run_batched run_weighted run_n_init
      run_tol_relative predict demo info cache bench bench_ab
      triton bad_inputs bad_usage)
  foreach(case ${FKM_CLI_CASES})
    add_test(NAME cli_${case}
      COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli_test.sh $<TARGET_FILE:fkm_cli> ${case})
    set_tests_properties(cli_${case} PROPERTIES LABELS cpu TIMEOUT 300
      ENVIRONMENT "FKM_TEST_FAIL_RENAME=$<TARGET_FILE:fail_rename>")
  endforeach()
endif()
