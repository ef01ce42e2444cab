// The only way glue code includes PostgreSQL: C++ and library headers first,
// then PostgreSQL inside extern "C", then the port.h macros that break C++
// libraries are undefined.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

extern "C" {
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
}

#undef snprintf
#undef vsnprintf
#undef sprintf
#undef vsprintf
#undef fprintf
#undef vfprintf
#undef printf
#undef vprintf
#undef unlink
#undef rename
#undef bind
#undef connect
#undef socket
#undef select
#undef strerror
#undef gettext
#undef dgettext
#undef ngettext
#undef dngettext
