# SPDX-License-Identifier: Apache-2.0
# Compile-time capacities of the static tables. Each is a cache variable so a
# site can size the daemon for its box; they are printed by --version and
# published in P/status under "limits". A limit that is hit is a reported
# error, never a silent truncation.
set(EH_MAX_WEBHOOKS 32 CACHE STRING "Webhooks configured at once (<= 64)")
set(EH_FILTER_MAX_IDS 64 CACHE STRING "Values in one filter list (camera_in, ...)")
set(EH_MAX_MSG_BYTES 262144 CACHE STRING "Largest MQTT payload accepted")
set(EH_JSON_MAX_DEPTH 32 CACHE STRING "Deepest JSON nesting accepted")
set(EH_MAX_ARRAY_NOTES 1000 CACHE STRING "Notifications in one input array")
set(EH_MAX_BATCH 1000 CACHE STRING "Largest batch_size")
set(EH_MAX_HEADERS 16 CACHE STRING "Custom headers per webhook")
set(EH_CATALOG_BYTES 262144 CACHE STRING "Bytes kept for catalog entities (verbose mode)")
set(EH_CATALOG_MAX_ENTRIES 512 CACHE STRING "Catalog entities kept")
configure_file(${CMAKE_CURRENT_LIST_DIR}/eh_limits.h.in ${CMAKE_BINARY_DIR}/gen/eh_limits.h @ONLY)
