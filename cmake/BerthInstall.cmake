# Installs the SDK so plugins build out of tree:
#   find_package(Berth 0.1 CONFIG REQUIRED)   # SameMajorVersion
#   berth_add_plugin(my-plugin SOURCES my_plugin.cc)
# and a pkg-config file whose `plugindir` variable names where plugins go.
include(CMakePackageConfigHelpers)
set(BERTH_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Berth)

install(EXPORT BerthTargets NAMESPACE Berth:: DESTINATION ${BERTH_CMAKE_DIR})
configure_package_config_file(cmake/BerthConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/BerthConfig.cmake
  INSTALL_DESTINATION ${BERTH_CMAKE_DIR}
  PATH_VARS BERTH_PLUGIN_SUBDIR)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/BerthConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/BerthConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/BerthConfigVersion.cmake
  cmake/BerthPluginHelpers.cmake
  DESTINATION ${BERTH_CMAKE_DIR})

configure_file(cmake/berth.pc.in ${CMAKE_CURRENT_BINARY_DIR}/berth.pc @ONLY)
# The installed berth.pc names the prefix chosen at install time
# (`cmake --install --prefix`), not the one configured.
install(CODE "
  set(CMAKE_INSTALL_LIBDIR [[${CMAKE_INSTALL_LIBDIR}]])
  set(CMAKE_INSTALL_INCLUDEDIR [[${CMAKE_INSTALL_INCLUDEDIR}]])
  set(BERTH_PLUGIN_SUBDIR [[${BERTH_PLUGIN_SUBDIR}]])
  set(PROJECT_VERSION [[${PROJECT_VERSION}]])
  configure_file([[${CMAKE_CURRENT_SOURCE_DIR}/cmake/berth.pc.in]]
                 [[${CMAKE_CURRENT_BINARY_DIR}/berth-install/berth.pc]] @ONLY)
  file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\"
       TYPE FILE FILES [[${CMAKE_CURRENT_BINARY_DIR}/berth-install/berth.pc]])
")
