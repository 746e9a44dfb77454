#ifndef PEARIRC_CSODIUM_SHIM_H
#define PEARIRC_CSODIUM_SHIM_H
#include <sodium.h>
#endif
