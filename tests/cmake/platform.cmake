# SPDX-License-Identifier: Apache-2.0
eh_unit_test(test_eh_platform SOURCES unit/test_eh_platform.c LIBS Threads::Threads)
