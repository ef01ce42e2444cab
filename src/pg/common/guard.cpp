#include "core/common/error_capture.hpp"
#include "pg/common/guard.hpp"

namespace coord::pg {

ErrorData* take_current_error(MemoryContext ctx) {
    MemoryContextSwitchTo(ctx);
    ErrorData* data = CopyErrorData();
    FlushErrorState();
    return data;
}

namespace {

// Static, not on the stack: the catch handler must not allocate, and the
// text must outlive the C++ frames until ereport copies it.
CapturedError captured;

int to_pg_sqlstate(const char* code) {
    return MAKE_SQLSTATE(code[0], code[1], code[2], code[3], code[4]);
}

}  // namespace

Datum guarded_call(Datum (*body)(FunctionCallInfo), FunctionCallInfo fcinfo) {
    ErrorData* pg_error = nullptr;
    bool failed = false;
    try {
        return body(fcinfo);
    } catch (const PgException& e) {
        pg_error = e.data();
    } catch (...) {
        capture_current_exception(captured);
        failed = true;
    }
    // No C++ object is alive past this point: it is safe to longjmp.
    if (pg_error) ReThrowError(pg_error);
    if (failed)
        ereport(ERROR, (errcode(to_pg_sqlstate(captured.sqlstate)), errmsg("%s", captured.message),
                        captured.detail[0] ? errdetail("%s", captured.detail) : 0,
                        captured.hint[0] ? errhint("%s", captured.hint) : 0));
    pg_unreachable();
}

}  // namespace coord::pg
