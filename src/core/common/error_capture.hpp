// The PostgreSQL-free half of the C++ -> PostgreSQL error boundary: turn
// whatever was thrown into plain, fixed-size data. Copying into fixed buffers
// means no allocation happens while an exception is in flight, and nothing
// with a destructor is left alive when the glue then calls ereport(ERROR).
#pragma once
#include "core/common/cpp_only.hpp"

#include <cstddef>

namespace coord {

struct CapturedError {
    static constexpr std::size_t kTextSize = 2048;
    char sqlstate[6] = "XX000";
    char message[kTextSize] = "";
    char detail[kTextSize] = "";
    char hint[kTextSize] = "";
};

// Call only from inside a catch block: classifies std::current_exception().
// coord::Error keeps its SQLSTATE; std::bad_alloc becomes 53200
// (out_of_memory); any other exception becomes XX000 with its what() text.
void capture_current_exception(CapturedError& out) noexcept;

// Bounded copy that always NUL-terminates (truncates with "..." if too long).
void copy_bounded(char* dest, std::size_t size, const char* src) noexcept;

}  // namespace coord
