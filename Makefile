# Builds and installs the pg_coord extension with PGXS.
# The core's unit tests build with CMake (see CMakeLists.txt); `tools/test`
# runs everything.

MODULE_big = pg_coord
SRCS = $(sort $(wildcard src/core/*/*.cpp) $(wildcard src/pg/*/*.cpp) $(wildcard bgworker/*.cpp))
OBJS = $(SRCS:.cpp=.o)

# Released install scripts and every upgrade script are kept, as written, in
# extension/versions/ (a released script is never edited again: tests/upgrade).
# The install script of the version in development (default_version in the
# control file) is assembled from one part per feature, extension/sql/*.sql.
MODULEDIR = extension
EXTVERSION := $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" extension/pg_coord.control)
DATA = extension/pg_coord.control $(sort $(wildcard extension/versions/pg_coord--*.sql))
ifeq ($(wildcard extension/versions/pg_coord--$(EXTVERSION).sql),)
DATA_built = extension/pg_coord--$(EXTVERSION).sql
endif
EXTRA_CLEAN = $(OBJS) $(OBJS:.o=.d)

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -I$(srcdir)/src
PG_CXXFLAGS = -MMD -MP -std=c++17 -fPIC -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-register
SHLIB_LINK = -lfmt -lstdc++

# No LLVM bitcode for JIT inlining: it would need clang for C++ sources.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

extension/pg_coord--$(EXTVERSION).sql: $(sort $(wildcard extension/sql/*.sql))
	cat $^ > $@

# Rebuild an object when a header it includes changed (PGXS does not track
# header dependencies by itself).
-include $(OBJS:.o=.d)
