# SPDX-License-Identifier: Apache-2.0
# Build hygiene: every header under app/, platform/ and drivers/ compiles on
# its own (a generated TU per header, built as part of ALL), no heap calls in
# our sources outside tests/style/heap-allowlist.txt, includes that respect
# the layers, and a steady-state parse+match loop that makes no heap call.
# See docs/CHECKS.md.

# ==== Headers stand alone ====================================================
# For each folder holding headers, one OBJECT library eh_hdr_<folder> whose
# sources are generated files reading `#include "x.h"` twice (the second
# include proves the guard). It links the library targets defined in that
# folder, so it sees exactly the include directories and flags (eh_warnings:
# -Werror ...) a user of the module sees. Folders without a library target
# of their own (app/ctl, a module with no .c yet) get the app modules' paths.
set(EH_HDR_GEN ${CMAKE_BINARY_DIR}/headers_standalone)

# The library targets (STATIC/OBJECT/INTERFACE) a processed source directory defines.
function(eh_hdr_dir_libs dir out)
  set(libs)
  get_property(tgts DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(t ${tgts})
    get_target_property(type ${t} TYPE)
    if(type MATCHES "^(STATIC_LIBRARY|OBJECT_LIBRARY|INTERFACE_LIBRARY)$"
        AND NOT t MATCHES "^eh_hdr_")
      list(APPEND libs ${t})
    endif()
  endforeach()
  set(${out} ${libs} PARENT_SCOPE)
endfunction()

# Whether CMake processed `dir` (add_subdirectory ran for it).
function(eh_hdr_dir_processed dir out)
  get_filename_component(parent ${dir} DIRECTORY)
  set(found FALSE)
  if(dir STREQUAL PROJECT_SOURCE_DIR)
    set(found TRUE)
  elseif(EXISTS ${parent}/CMakeLists.txt)
    eh_hdr_dir_processed(${parent} parent_ok)
    if(parent_ok)
      get_property(subs DIRECTORY ${parent} PROPERTY SUBDIRECTORIES)
      if(dir IN_LIST subs)
        set(found TRUE)
      endif()
    endif()
  endif()
  set(${out} ${found} PARENT_SCOPE)
endfunction()

# Give `obj` the compile-side usage requirements of `libs` and everything they
# link publicly (include directories, definitions, options), without linking
# them: a header is checked even while a module's .c files do not build, and
# the check costs one compile per header, nothing more. $<LINK_ONLY:x>
# entries (a static library's PRIVATE deps) carry no compile requirements.
function(eh_hdr_usage obj libs)
  set(todo ${libs})
  set(seen)
  while(todo)
    list(POP_FRONT todo t)
    if(NOT TARGET ${t} OR t IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${t})
    target_include_directories(${obj} PRIVATE $<TARGET_PROPERTY:${t},INTERFACE_INCLUDE_DIRECTORIES>)
    target_compile_definitions(${obj} PRIVATE $<TARGET_PROPERTY:${t},INTERFACE_COMPILE_DEFINITIONS>)
    target_compile_options(${obj} PRIVATE $<TARGET_PROPERTY:${t},INTERFACE_COMPILE_OPTIONS>)
    get_target_property(aliased ${t} ALIASED_TARGET)
    if(aliased)
      list(APPEND todo ${aliased})
    endif()
    get_target_property(deps ${t} INTERFACE_LINK_LIBRARIES)
    if(deps)
      foreach(dep ${deps})
        if(NOT dep MATCHES "^\\$<" AND TARGET ${dep})
          list(APPEND todo ${dep})
        endif()
      endforeach()
    endif()
  endwhile()
endfunction()

file(GLOB_RECURSE eh_all_headers CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/app/*.h ${PROJECT_SOURCE_DIR}/platform/*.h
  ${PROJECT_SOURCE_DIR}/drivers/*.h)
list(SORT eh_all_headers)
set(eh_hdr_dirs)
foreach(h ${eh_all_headers})
  get_filename_component(d ${h} DIRECTORY)
  list(APPEND eh_hdr_dirs ${d})
endforeach()
list(REMOVE_DUPLICATES eh_hdr_dirs)

add_custom_target(eh_headers_check ALL)
set(EH_HEADERS_CHECKED "")
set(EH_HEADERS_SKIPPED "")
foreach(d ${eh_hdr_dirs})
  file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR} ${d})
  string(REGEX REPLACE "[^A-Za-z0-9]" "_" tag ${rel})
  file(GLOB hdrs ${d}/*.h)
  list(SORT hdrs)

  eh_hdr_dir_processed(${d} processed)
  set(libs)
  if(processed)
    eh_hdr_dir_libs(${d} libs)
  endif()
  set(extra_inc)
  if(NOT libs)
    if(rel MATCHES "^drivers/")
      # A backend not part of this build (e.g. coap with EH_WITH_COAP=OFF).
      list(APPEND EH_HEADERS_SKIPPED ${hdrs})
      continue()
    endif()
    # app/ctl and modules without a library yet: the app modules' view.
    set(libs eh_app eh_platform)
    set(extra_inc ${d} ${PROJECT_SOURCE_DIR}/app)
  endif()

  set(tus)
  foreach(h ${hdrs})
    get_filename_component(name ${h} NAME)
    string(REGEX REPLACE "[^A-Za-z0-9]" "_" stem ${name})
    set(tu ${EH_HDR_GEN}/${tag}/${stem}.c)
    file(CONFIGURE OUTPUT ${tu} CONTENT
      "/* generated: ${rel}/${name} compiles alone; its guard allows a second include */\n\
#include \"${name}\"\n#include \"${name}\"\n"
      @ONLY)
    list(APPEND tus ${tu})
    list(APPEND EH_HEADERS_CHECKED ${h})
  endforeach()
  add_library(eh_hdr_${tag} OBJECT ${tus})
  eh_hdr_usage(eh_hdr_${tag} "${libs}")
  target_include_directories(eh_hdr_${tag} PRIVATE ${extra_inc})
  add_dependencies(eh_headers_check eh_hdr_${tag})
endforeach()
list(LENGTH EH_HEADERS_CHECKED eh_hdr_n)
message(STATUS "headers_standalone: ${eh_hdr_n} headers checked")
if(EH_HEADERS_SKIPPED)
  message(STATUS "headers_standalone: skipped (backend not built): ${EH_HEADERS_SKIPPED}")
endif()

# The same check as a test, for `ctest -R headers_standalone` after editing a
# header: the object libraries are part of ALL, so this is normally a no-op.
add_test(NAME headers_standalone
  COMMAND ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target eh_headers_check)
set_tests_properties(headers_standalone PROPERTIES LABELS "unit;style" TIMEOUT 300)

# ==== No heap in our sources =================================================
find_program(EH_STYLE_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(EH_STYLE_PYTHON)
  set(eh_heap_check ${CMAKE_CURRENT_SOURCE_DIR}/style/check_heap.py)
  add_test(NAME no_malloc COMMAND ${EH_STYLE_PYTHON} ${eh_heap_check}
    --root ${PROJECT_SOURCE_DIR}
    --allow ${CMAKE_CURRENT_SOURCE_DIR}/style/heap-allowlist.txt)
  set_tests_properties(no_malloc PROPERTIES LABELS "unit;style" TIMEOUT 60)
  # The checker itself: planted heap calls must be caught, comments and
  # look-alikes must not, and stale allow-list entries fail.
  add_test(NAME no_malloc_selftest COMMAND ${EH_STYLE_PYTHON} ${eh_heap_check} --selftest)
  set_tests_properties(no_malloc_selftest PROPERTIES LABELS "unit;style" TIMEOUT 60)

  # Layering (STYLE.md section 1): library headers only in drivers/ (cJSON in
  # app/json/), includes point downward, errno only in platform/.
  set(eh_layers_check ${CMAKE_CURRENT_SOURCE_DIR}/style/check_layers.py)
  add_test(NAME layers COMMAND ${EH_STYLE_PYTHON} ${eh_layers_check}
    --root ${PROJECT_SOURCE_DIR}
    --allow ${CMAKE_CURRENT_SOURCE_DIR}/style/layers-allowlist.txt)
  add_test(NAME layers_selftest COMMAND ${EH_STYLE_PYTHON} ${eh_layers_check} --selftest)
  set_tests_properties(layers layers_selftest PROPERTIES LABELS "unit;style" TIMEOUT 60)
endif()

# ==== No heap call in steady state ===========================================
# Our objects' malloc/calloc/realloc/free references go through __wrap_*
# counters (GNU ld --wrap); libraries linked as shared objects are not
# rewritten, so this counts what our code asks for, not what a library does
# behind it. Works under ASan too: __real_malloc is the interceptor.
eh_unit_test(test_style_heap SOURCES style/test_style_heap.c
  LIBS eh_filter eh_model eh_queue eh_drv_storage LABELS "unit;style" TIMEOUT 120)
target_link_options(test_style_heap PRIVATE
  "LINKER:--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free"
  "LINKER:--wrap=strdup,--wrap=strndup,--wrap=posix_memalign,--wrap=aligned_alloc")
if(CMAKE_CROSSCOMPILING)
  set_tests_properties(test_style_heap PROPERTIES ENVIRONMENT EH_QEMU=1) # fewer rounds
endif()

# ==== Formatting =============================================================
# The tree as clang-format writes it (.clang-format at the root); skipped
# when clang-format is not installed.
add_test(NAME format COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/style/check_format.sh
  ${PROJECT_SOURCE_DIR})
set_tests_properties(format PROPERTIES LABELS "unit;style" TIMEOUT 120 SKIP_RETURN_CODE 77)
