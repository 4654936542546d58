# berth_add_plugin(<name> SOURCES <src>... [LIBS <lib>...])
# For out-of-tree plugin authors: builds "<name>.so" exporting only the
# berth entry point. Install it into ${BERTH_PLUGIN_DIR} or any plugin_dir.
function(berth_add_plugin name)
  cmake_parse_arguments(P "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${name} MODULE ${P_SOURCES})
  set_target_properties(${name} PROPERTIES PREFIX ""
    CXX_STANDARD 20 CXX_STANDARD_REQUIRED ON
    CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  target_link_libraries(${name} PRIVATE Berth::sdk ${P_LIBS})
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
endfunction()
