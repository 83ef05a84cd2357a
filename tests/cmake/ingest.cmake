# SPDX-License-Identifier: Apache-2.0
# The ingest pipeline over fake ops.
eh_unit_test(test_eh_ingest SOURCES unit/test_eh_ingest.c LIBS eh_ingest)
