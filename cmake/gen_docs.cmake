# The man page and shell completions from the binary BIN, into DIR
# (cmd_docs.c makes them from the tables --help prints).  A sanitizer
# build's binary runs here as well; its leak checks belong to the tests.
foreach(pair "manpage;cloister.1" "completion bash;cloister.bash" "completion zsh;_cloister")
  list(GET pair 0 args)
  list(GET pair 1 out)
  separate_arguments(args)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0
                          ${BIN} ${args}
                  OUTPUT_FILE ${DIR}/${out}.tmp RESULT_VARIABLE rc)
  # A ThreadSanitizer binary may refuse a randomized address space
  # ("unexpected memory mapping"): once more without randomization.
  find_program(SETARCH setarch)
  if(NOT rc EQUAL 0 AND SETARCH)
    execute_process(COMMAND ${SETARCH} ${CMAKE_HOST_SYSTEM_PROCESSOR} -R ${BIN} ${args}
                    OUTPUT_FILE ${DIR}/${out}.tmp RESULT_VARIABLE rc)
  endif()
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${BIN} ${args} failed (${rc})")
  endif()
  file(RENAME ${DIR}/${out}.tmp ${DIR}/${out})
endforeach()
