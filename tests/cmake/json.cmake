# SPDX-License-Identifier: Apache-2.0
# The JSON writer and its string escaper (the scanner is tested with the model).
eh_unit_test(test_eh_jw SOURCES unit/test_eh_jw.c LIBS eh_json)
