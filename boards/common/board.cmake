# Helpers every board's CMakeLists.txt uses to build its images the same way.
#
#   tt_board_library(<name> SOURCES <file>...)
#       The board's drivers plus the shared Cortex-M7 core, as an object library, so
#       that the vector table and reset handler are always linked in.
#
#   tt_board_executable(<name> BOARD <board library> [SOURCES <file>...] [LIBRARIES <lib>...])
#       <name>.elf linked with the board's memory.ld (which INCLUDEs common/sections.ld),
#       plus <name>.map and <name>.bin next to it; prints the section sizes.

set(TT_BOARD_COMMON_DIR ${CMAKE_CURRENT_LIST_DIR})
# Stack reserved at the top of SRAM (sections.ld); board.toml states the same number.
set(TT_STACK_BYTES 8192 CACHE STRING "Bytes reserved for the main stack at the top of SRAM")

function(tt_board_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  add_library(${name} OBJECT ${ARG_SOURCES} ${TT_BOARD_COMMON_DIR}/cortex_m7.c)
  target_include_directories(${name} PUBLIC ${TT_BOARD_COMMON_DIR} ${PROJECT_SOURCE_DIR}/firmware/include)
  target_compile_options(${name} PRIVATE ${TT_WARNINGS})
endfunction()

function(tt_board_executable name)
  cmake_parse_arguments(ARG "" "BOARD" "SOURCES;LIBRARIES" ${ARGN})
  set(memory_ld ${CMAKE_CURRENT_SOURCE_DIR}/memory.ld)
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR})

  add_executable(${name} ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES
    SUFFIX ".elf"
    RUNTIME_OUTPUT_DIRECTORY ${out_dir}
    LINK_DEPENDS "${memory_ld};${TT_BOARD_COMMON_DIR}/sections.ld")
  target_compile_options(${name} PRIVATE ${TT_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_BOARD} ${ARG_LIBRARIES})
  target_link_options(${name} PRIVATE
    -T${memory_ld}
    -L${TT_BOARD_COMMON_DIR}
    -Wl,--defsym=__tt_stack_bytes=${TT_STACK_BYTES}
    -Wl,-Map=${out_dir}/${name}.map
    -Wl,--print-memory-usage)
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND ${CMAKE_OBJCOPY} -O binary $<TARGET_FILE:${name}> ${out_dir}/${name}.bin
    COMMAND ${CMAKE_SIZE} -A -x $<TARGET_FILE:${name}>
    BYPRODUCTS ${out_dir}/${name}.bin ${out_dir}/${name}.map
    VERBATIM)
endfunction()
