# SPDX-License-Identifier: Apache-2.0
# The bootstrap loader; the shipped example is read from the source tree.
eh_unit_test(test_eh_bootstrap SOURCES unit/test_eh_bootstrap.c LIBS eh_bootstrap)
target_compile_definitions(test_eh_bootstrap PRIVATE EH_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
# What a reload changes: the comparison alone, no files.
eh_unit_test(test_eh_bootstrap_diff SOURCES unit/test_eh_bootstrap_diff.c LIBS eh_bootstrap)
