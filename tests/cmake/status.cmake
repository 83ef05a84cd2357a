eh_unit_test(test_eh_status SOURCES unit/test_eh_status.c LIBS eh_status PkgConfig::CJSON)
eh_unit_test(test_eh_status_pub SOURCES unit/test_eh_status_pub.c LIBS eh_status
  PkgConfig::CJSON)
