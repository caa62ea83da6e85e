# The Python extension neurosweep._engine (issue 18; python/engine/engine_module.cpp): the engine
# of `neurosweep run` in memory (host/run/evaluate.hpp) for neurosweep.Engine. Built when a Python
# with development headers and the nanobind package is found: the project's .venv (scripts/setup.sh
# installs nanobind from scripts/requirements/engine.txt) unless Python_EXECUTABLE is given. The
# module goes to <build>/python/neurosweep/, where python/neurosweep/engine.py looks for it.
option(NEUROSWEEP_PYTHON "Build the Python extension neurosweep._engine (when Python and nanobind are found)" ON)
if(NEUROSWEEP_PYTHON)
  if(NOT DEFINED Python_EXECUTABLE AND EXISTS ${CMAKE_SOURCE_DIR}/.venv/bin/python)
    set(Python_EXECUTABLE ${CMAKE_SOURCE_DIR}/.venv/bin/python)
  endif()
  find_package(Python 3.8 QUIET COMPONENTS Interpreter Development.Module)
  set(_ns_nb_rc 1)
  if(Python_FOUND)
    execute_process(COMMAND ${Python_EXECUTABLE} -m nanobind --cmake_dir OUTPUT_VARIABLE _ns_nb_dir
                    OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _ns_nb_rc ERROR_QUIET)
  endif()
  if(Python_FOUND AND _ns_nb_rc EQUAL 0)
    find_package(nanobind CONFIG REQUIRED PATHS ${_ns_nb_dir} NO_DEFAULT_PATH)
    nanobind_add_module(neurosweep_engine NB_STATIC ${CMAKE_SOURCE_DIR}/python/engine/engine_module.cpp)
    set_target_properties(neurosweep_engine PROPERTIES OUTPUT_NAME _engine
                          LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/python/neurosweep)
    target_link_libraries(neurosweep_engine PRIVATE neurosweep_core)
    message(STATUS "neurosweep: Python extension ON (${Python_EXECUTABLE})")
  else()
    message(STATUS "neurosweep: Python extension OFF (no Python development files or no nanobind for "
                   "'${Python_EXECUTABLE}'; scripts/setup.sh installs nanobind into .venv)")
  endif()
endif()
