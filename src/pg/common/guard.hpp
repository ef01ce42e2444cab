// The error boundary between C++ and PostgreSQL, one mechanism each way.
//
//  * PostgreSQL -> C++: pg_call(f) runs f under PG_TRY in its own frame. If f
//    raises, the error data is copied, the error state flushed and a
//    PgException thrown, so C++ unwinds normally. f itself must not own
//    objects with destructors (a lambda that only calls PostgreSQL C API).
//
//  * C++ -> PostgreSQL: COORD_FUNCTION(name) declares the extern "C" entry
//    point, which runs the C++ body through guarded_call(). Every exception
//    is caught and copied into plain memory, all C++ frames are gone, and
//    only then is ereport(ERROR) (or ReThrowError for a PgException) called.
#pragma once

#include "pg/common/pg_headers.hpp"

#include <exception>
#include <type_traits>

namespace coord::pg {

// A PostgreSQL error caught by pg_call, carried through C++ frames.
class PgException : public std::exception {
public:
    explicit PgException(ErrorData* data) : data_(data) {}
    const char* what() const noexcept override { return data_->message ? data_->message : "error"; }
    ErrorData* data() const noexcept { return data_; }

private:
    ErrorData* data_;  // palloc'd in the caller's memory context
};

// Copies the current PostgreSQL error (we are in PG_CATCH) into `ctx` and
// clears the error state. Defined out of line: only C code in between.
ErrorData* take_current_error(MemoryContext ctx);

template <typename F>
auto pg_call(F&& f) -> decltype(f()) {
    using R = decltype(f());
    static_assert(std::is_void_v<R> || std::is_trivially_copyable_v<R>,
                  "pg_call returns plain values only (Datum, pointers, numbers)");
    MemoryContext caller_context = CurrentMemoryContext;
    ErrorData* volatile error = nullptr;
    if constexpr (std::is_void_v<R>) {
        PG_TRY();
        { f(); }
        PG_CATCH();
        { error = take_current_error(caller_context); }
        PG_END_TRY();
        if (error) throw PgException(error);
    } else {
        // Written through a pointer so it lives in memory, not in a register
        // that the longjmp could restore; it is only read when f() returned.
        R result{};
        R* const volatile out = &result;
        PG_TRY();
        { *out = f(); }
        PG_CATCH();
        { error = take_current_error(caller_context); }
        PG_END_TRY();
        if (error) throw PgException(error);
        return result;
    }
}

// Runs body(fcinfo); on any exception raises it as a PostgreSQL ERROR.
Datum guarded_call(Datum (*body)(FunctionCallInfo), FunctionCallInfo fcinfo);

}  // namespace coord::pg

// Declares a SQL-callable function `name` whose C++ body follows the macro.
#define COORD_FUNCTION(name)                                                  \
    static Datum name##_body(FunctionCallInfo fcinfo);                        \
    extern "C" {                                                              \
    PG_FUNCTION_INFO_V1(name);                                                \
    Datum name(PG_FUNCTION_ARGS) {                                            \
        return coord::pg::guarded_call(name##_body, fcinfo);                  \
    }                                                                         \
    }                                                                         \
    static Datum name##_body([[maybe_unused]] FunctionCallInfo fcinfo)
