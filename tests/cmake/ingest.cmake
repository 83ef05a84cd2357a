# SPDX-License-Identifier: Apache-2.0
# The ingest pipeline over fake ops.
eh_unit_test(test_eh_ingest SOURCES unit/test_eh_ingest.c LIBS eh_ingest)

# The MQTT fake behind struct eh_mqtt: no broker, no threads.
add_library(eh_fake_mqtt STATIC ${CMAKE_CURRENT_SOURCE_DIR}/fakes/eh_mqtt_fake.c)
target_include_directories(eh_fake_mqtt PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/fakes
  ${PROJECT_SOURCE_DIR}/drivers/mqtt)
target_link_libraries(eh_fake_mqtt PUBLIC eh_platform)
# The MQTT ingest path through the fake, over the real ingest, group commit
# and queue on the emulated flash.
eh_unit_test(test_eh_ingest_mqtt SOURCES unit/test_eh_ingest_mqtt.c
  LIBS eh_ingest eh_commit eh_queue eh_fake_mqtt eh_drv_flash_emu)

# The data path's glue (app/pipeline): ingest, group commit, the redelivery
# filter, the journal and delivery's source, on the emulated flash with the
# MQTT fake and a hand-moved clock.
eh_unit_test(test_eh_pipeline SOURCES unit/test_eh_pipeline.c
  LIBS eh_pipeline eh_fake_mqtt eh_drv_flash_emu)
