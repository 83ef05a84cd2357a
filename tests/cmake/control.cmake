# SPDX-License-Identifier: Apache-2.0
# The config control plane over a temporary store and a recording publish.
eh_unit_test(test_eh_control SOURCES unit/test_eh_control.c LIBS eh_control)
