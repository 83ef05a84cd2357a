# SPDX-License-Identifier: Apache-2.0
# The redelivery filter's file.
eh_unit_test(test_eh_seen SOURCES unit/test_eh_seen.c LIBS eh_seen)
