eh_unit_test(test_eh_crypto SOURCES unit/test_eh_crypto.c LIBS eh_drv_crypto)
