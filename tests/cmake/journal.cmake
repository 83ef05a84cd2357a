# SPDX-License-Identifier: Apache-2.0
# app/journal: the inbound journal on real files in /tmp (it maps them).
eh_unit_test(test_eh_journal SOURCES unit/test_eh_journal.c LIBS eh_journal)
