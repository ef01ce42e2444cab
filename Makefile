# Builds and installs the pg_coord extension with PGXS.
# The core's unit tests build with CMake (see CMakeLists.txt); `tools/test`
# runs everything.

MODULE_big = pg_coord
SRCS = $(sort $(wildcard src/core/*/*.cpp) $(wildcard src/pg/*/*.cpp) $(wildcard bgworker/*.cpp))
OBJS = $(SRCS:.cpp=.o)

# The install script is assembled from one part per feature.
MODULEDIR = extension
DATA = extension/pg_coord.control
DATA_built = extension/pg_coord--0.1.sql
EXTRA_CLEAN = $(OBJS) $(OBJS:.o=.d)

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -I$(srcdir)/src
PG_CXXFLAGS = -MMD -MP -std=c++17 -fPIC -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-register
SHLIB_LINK = -lfmt -lstdc++

# No LLVM bitcode for JIT inlining: it would need clang for C++ sources.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

extension/pg_coord--0.1.sql: $(sort $(wildcard extension/sql/*.sql))
	cat $^ > $@

# Rebuild an object when a header it includes changed (PGXS does not track
# header dependencies by itself).
-include $(OBJS:.o=.d)
