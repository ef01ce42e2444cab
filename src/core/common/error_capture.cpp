#include "core/common/error_capture.hpp"

#include "core/common/error.hpp"

#include <cstring>
#include <exception>
#include <new>

namespace coord {

void copy_bounded(char* dest, std::size_t size, const char* src) noexcept {
    if (size == 0) return;
    if (src == nullptr) src = "";
    std::size_t len = std::strlen(src);
    if (len < size) {
        std::memcpy(dest, src, len + 1);
        return;
    }
    std::memcpy(dest, src, size - 1);
    dest[size - 1] = '\0';
    if (size > 4) std::memcpy(dest + size - 4, "...", 3);
}

void capture_current_exception(CapturedError& out) noexcept {
    out.detail[0] = out.hint[0] = '\0';
    try {
        throw;
    } catch (const Error& e) {
        copy_bounded(out.sqlstate, sizeof out.sqlstate, e.sqlstate());
        copy_bounded(out.message, sizeof out.message, e.what());
        copy_bounded(out.detail, sizeof out.detail, e.detail().c_str());
        copy_bounded(out.hint, sizeof out.hint, e.hint().c_str());
    } catch (const std::bad_alloc&) {
        copy_bounded(out.sqlstate, sizeof out.sqlstate, "53200");
        copy_bounded(out.message, sizeof out.message, "out of memory in pg_coord");
    } catch (const std::exception& e) {
        copy_bounded(out.sqlstate, sizeof out.sqlstate, sqlstate::internal_error);
        copy_bounded(out.message, sizeof out.message, e.what());
    } catch (...) {
        copy_bounded(out.sqlstate, sizeof out.sqlstate, sqlstate::internal_error);
        copy_bounded(out.message, sizeof out.message, "unknown C++ exception in pg_coord");
    }
}

}  // namespace coord
