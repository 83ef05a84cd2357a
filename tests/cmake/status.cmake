eh_unit_test(test_eh_status SOURCES unit/test_eh_status.c LIBS eh_status PkgConfig::CJSON)
