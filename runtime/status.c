/* Status names and messages, generated from FKM_STATUS_LIST; library version. */
#include "fkm.h"
#include "fkm_version.h"

const char *fkm_status_name(fkm_status s) {
  switch (s) {
#define FKM_NAME_CASE_(name, value, message) \
  case name:                                 \
    return #name;
    FKM_STATUS_LIST(FKM_NAME_CASE_)
#undef FKM_NAME_CASE_
  }
  return "FKM_UNKNOWN_STATUS";
}

const char *fkm_status_message(fkm_status s) {
  switch (s) {
#define FKM_MESSAGE_CASE_(name, value, message) \
  case name:                                    \
    return message;
    FKM_STATUS_LIST(FKM_MESSAGE_CASE_)
#undef FKM_MESSAGE_CASE_
  }
  return "unknown status";
}

const char *fkm_version_string(void) { return FKM_VERSION_STRING; }

unsigned fkm_version(void) {
  return FKM_VERSION_MAJOR * 10000u + FKM_VERSION_MINOR * 100u + FKM_VERSION_PATCH;
}
