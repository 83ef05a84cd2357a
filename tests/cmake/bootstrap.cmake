eh_unit_test(test_eh_bootstrap SOURCES unit/test_eh_bootstrap.c LIBS eh_bootstrap)
