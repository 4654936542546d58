// Everything a plugin author needs to write a plugin library.
#ifndef BERTH_BERTH_H_
#define BERTH_BERTH_H_

#include "berth/config.h"
#include "berth/entry.h"
#include "berth/init_context.h"
#include "berth/logger.h"
#include "berth/plugin.h"
#include "berth/plugin_types.h"
#include "berth/status.h"

#endif  // BERTH_BERTH_H_
