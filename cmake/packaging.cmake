# Debian packages with CPack's DEB generator (`make package`, or `cpack` in a build tree):
#   libfileaio0      the shared library                              component runtime
#   libfileaio-dev   headers, static library, pkg-config, CMake files component dev
#   fileaio-tools    the fileaio command-line tool                   component tools
# Dependencies on other packages (libc6, liburing2, libaio1, libstdc++6...) are found by
# dpkg-shlibdeps from the binaries, not written here; the ones between our own packages come
# from the component dependencies (libfileaio-dev and fileaio-tools need libfileaio0 of the same
# version). libfileaio0 gets a shlibs file and the ldconfig trigger. lintian checks the result
# (tests/release/package_test.sh).

set(FILEAIO_PACKAGE_MAINTAINER "fileaio maintainers <maintainers@users.noreply.r-seed-c8f35bfe.example>"
    CACHE STRING "The Maintainer field of the Debian packages")

# Files only the packages carry: Debian's copyright and changelog for each package, the manual
# page. They are
# EXCLUDE_FROM_ALL, so `cmake --install` of a plain build does not install them.
set(FILEAIO_PACKAGE_COMPONENTS runtime dev)
if(TARGET fileaio_cli)
  list(APPEND FILEAIO_PACKAGE_COMPONENTS tools)  # not with FILEAIO_BUILD_TOOLS=OFF
endif()
set(FILEAIO_PACKAGE_NAME_runtime libfileaio${PROJECT_VERSION_MAJOR})
set(FILEAIO_PACKAGE_NAME_dev libfileaio-dev)
set(FILEAIO_PACKAGE_NAME_tools fileaio-tools)

# The Debian changelog of a native package: one entry for this version, pointing at CHANGELOG.md.
# (string(TIMESTAMP) takes SOURCE_DATE_EPOCH when it is set, for reproducible packages.)
string(TIMESTAMP fileaio_changelog_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
set(fileaio_changelog_dir ${PROJECT_BINARY_DIR}/packaging)
foreach(component IN LISTS FILEAIO_PACKAGE_COMPONENTS)
  set(pkg ${FILEAIO_PACKAGE_NAME_${component}})
  file(WRITE ${fileaio_changelog_dir}/${pkg}/changelog
    "${pkg} (${PROJECT_VERSION}) unstable; urgency=medium\n\n"
    "  * fileaio ${PROJECT_VERSION}: see CHANGELOG.md in the source tree.\n\n"
    " -- ${FILEAIO_PACKAGE_MAINTAINER}  ${fileaio_changelog_date}\n")
  add_custom_command(OUTPUT ${fileaio_changelog_dir}/${pkg}/changelog.gz
    COMMAND gzip -9nf -k ${fileaio_changelog_dir}/${pkg}/changelog
    DEPENDS ${fileaio_changelog_dir}/${pkg}/changelog)
  list(APPEND fileaio_changelogs ${fileaio_changelog_dir}/${pkg}/changelog.gz)
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/copyright ${fileaio_changelog_dir}/${pkg}/changelog.gz
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${pkg} COMPONENT ${component} EXCLUDE_FROM_ALL)
endforeach()
# The manual page of fileaio-tools, compressed as Debian wants it.
if(TARGET fileaio_cli)
  add_custom_command(OUTPUT ${fileaio_changelog_dir}/fileaio.1.gz
    COMMAND gzip -9n -c ${PROJECT_SOURCE_DIR}/packaging/fileaio.1 > ${fileaio_changelog_dir}/fileaio.1.gz
    DEPENDS ${PROJECT_SOURCE_DIR}/packaging/fileaio.1)
  list(APPEND fileaio_changelogs ${fileaio_changelog_dir}/fileaio.1.gz)
  install(FILES ${fileaio_changelog_dir}/fileaio.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT tools
    EXCLUDE_FROM_ALL)
endif()
add_custom_target(fileaio_package_files ALL DEPENDS ${fileaio_changelogs})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME fileaio)
set(CPACK_PACKAGE_VENDOR "fileaio")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${FILEAIO_PACKAGE_MAINTAINER}")
# No CPACK_PACKAGE_DESCRIPTION_SUMMARY: CPack would put it above each package's own synopsis.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL ${FILEAIO_PACKAGE_COMPONENTS})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${FILEAIO_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# fileaio-tools needs libfileaio.so.0, which is in no installed package: dpkg-shlibdeps finds it
# here and leaves its dependency to the component dependency below.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/src)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ${FILEAIO_PACKAGE_NAME_runtime})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
# Policy 8.1.1: a shared library activates the ldconfig trigger (CPack also adds an ldconfig call
# to postinst and postrm, which lintian only warns about).
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/packaging/runtime/triggers)
# CPack indents the lines after the first (the synopsis) and turns empty lines into " .".
set(fileaio_about "fileaio gives one asynchronous file I/O contract (submit, wait, cancel) on
four backends: io_uring, Linux AIO, POSIX AIO and a thread pool, and picks
the best one the machine offers.
")
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "asynchronous file I/O for Linux - shared library
${fileaio_about}
This package contains the shared library.")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME ${FILEAIO_PACKAGE_NAME_dev})
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEV_DEPENDS runtime)
# fileaio.pc names liburing in Requires.private and a static link needs liburing.a and libaio.a:
# libfileaio-dev depends on the packages that own the headers this build compiled against, as
# dpkg knows them (not names written here).
get_property(fileaio_dev_headers GLOBAL PROPERTY FILEAIO_DEV_DEPENDENCY_HEADERS)
set(fileaio_dev_depends "")
find_program(FILEAIO_DPKG_QUERY dpkg-query)
foreach(header IN LISTS fileaio_dev_headers)
  if(FILEAIO_DPKG_QUERY)
    execute_process(COMMAND ${FILEAIO_DPKG_QUERY} -S ${header} OUTPUT_VARIABLE owner ERROR_QUIET
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
    string(REGEX REPLACE "[:,].*" "" owner "${owner}")
    if(owner)
      list(APPEND fileaio_dev_depends ${owner})
    else()
      message(STATUS "fileaio packages: no package owns ${header}; libfileaio-dev will not depend on it")
    endif()
  endif()
endforeach()
list(JOIN fileaio_dev_depends ", " CPACK_DEBIAN_DEV_PACKAGE_DEPENDS)
set(CPACK_DEBIAN_DEV_DESCRIPTION "asynchronous file I/O for Linux - development files
${fileaio_about}
This package contains the C and C++ headers, the static library, the
pkg-config file and the CMake package (find_package(fileaio)).")
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME ${FILEAIO_PACKAGE_NAME_tools})
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION utils)
set(CPACK_COMPONENT_TOOLS_DEPENDS runtime)
set(CPACK_DEBIAN_TOOLS_DESCRIPTION "asynchronous file I/O for Linux - command-line tool
${fileaio_about}
This package contains the fileaio tool: 'fileaio info' says what the
machine offers each backend, 'fileaio bench' measures them.")
include(CPack)
