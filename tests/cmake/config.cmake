# SPDX-License-Identifier: Apache-2.0
# Config control plane: webhooks, gateway, catalog, signed mode with the
# versions file, `edgehookctl sign`; fuzzing of whole config messages.
eh_unit_test(test_eh_config SOURCES unit/test_eh_config.c LIBS eh_config)
eh_unit_test(test_eh_config_signed SOURCES unit/test_eh_config_signed.c
  ${PROJECT_SOURCE_DIR}/app/ctl/ctl_sign.c LIBS eh_config eh_bootstrap)
target_include_directories(test_eh_config_signed PRIVATE ${PROJECT_SOURCE_DIR}/app/ctl)
cmake_language(DEFER CALL eh_fuzz_target fuzz_config SOURCES fuzz/fuzz_config.c LIBS eh_config
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/config SECONDS 60)
eh_unit_test(test_eh_config_fleet SOURCES unit/test_eh_config_fleet.c LIBS eh_config)
