/**
 * @file version.h
 * @brief Firmware version, reported in INFO. Set by the build from the CMake project version.
 */
#ifndef TT_VERSION_H
#define TT_VERSION_H

#ifndef TT_VERSION_MAJOR
#define TT_VERSION_MAJOR 0
#endif
#ifndef TT_VERSION_MINOR
#define TT_VERSION_MINOR 1
#endif
#ifndef TT_VERSION_PATCH
#define TT_VERSION_PATCH 0
#endif

#endif /* TT_VERSION_H */
