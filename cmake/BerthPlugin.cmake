# berth_add_plugin(<name> SOURCES <src>... [LIBS <lib>...])
#
# Builds a plugin library "<name>.so" into the build's plugin folder (and
# installs it into lib/berth/plugins). Only the entry point is exported.
function(berth_add_plugin name)
  cmake_parse_arguments(P "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${name} MODULE ${P_SOURCES})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    LIBRARY_OUTPUT_DIRECTORY "${BERTH_PLUGIN_OUTPUT_DIR}"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_libraries(${name} PRIVATE berth::sdk ${P_LIBS})
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
  berth_warnings(${name})
  install(TARGETS ${name} LIBRARY DESTINATION "${BERTH_PLUGIN_SUBDIR}")
endfunction()
