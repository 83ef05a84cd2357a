eh_unit_test(test_eh_config_store SOURCES unit/test_eh_config_store.c LIBS eh_config)
