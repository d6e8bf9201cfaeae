# Cross-build for linux-aarch64 with Debian's g++-aarch64-linux-gnu; tests run under qemu-user.
#   cmake -S native/runtime -B build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake ...
# scripts/test-runtime-aarch64.sh drives it end to end.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# OpenBLAS 0.3.31's arm64 openblas_config.h declares `typedef _Float16 hfloat16;`; g++ 12 knows _Float16 only
# in C, so C++ sources including cblas.h fail. __fp16 is the same IEEE half type on AArch64.
set(CMAKE_CXX_FLAGS_INIT "-D_Float16=__fp16")

# Debian's multiarch cross root: target headers and libraries; host programs still come from the host.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# ctest and gtest_discover_tests run target binaries through qemu; -L points its loader at the cross libc.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;/usr/aarch64-linux-gnu)
