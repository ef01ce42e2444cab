// The PostgreSQL-free half of the error boundary: whatever is thrown comes
// out as a SQLSTATE and bounded text, with the C++ frames fully unwound.
#include "core/common/error.hpp"
#include "core/common/error_capture.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace {

int destroyed = 0;
struct Tracked {
    std::string owned = std::string(100, 'y');
    ~Tracked() { ++destroyed; }
};

template <typename Thrower>
coord::CapturedError capture(Thrower thrower) {
    coord::CapturedError out;
    try {
        Tracked alive;
        thrower();
    } catch (...) {
        coord::capture_current_exception(out);
    }
    return out;
}

TEST(ErrorCapture, CoordErrorKeepsSqlstateMessageDetailAndHint) {
    destroyed = 0;
    auto out = capture([] { throw coord::Error(coord::sqlstate::lease_lost, "msg", "det", "hint"); });
    EXPECT_STREQ(out.sqlstate, "PC001");
    EXPECT_STREQ(out.message, "msg");
    EXPECT_STREQ(out.detail, "det");
    EXPECT_STREQ(out.hint, "hint");
    EXPECT_EQ(destroyed, 1);
}

TEST(ErrorCapture, StdExceptionBecomesInternalError) {
    auto out = capture([] { throw std::runtime_error("boom"); });
    EXPECT_STREQ(out.sqlstate, "XX000");
    EXPECT_STREQ(out.message, "boom");
    EXPECT_STREQ(out.detail, "");
}

TEST(ErrorCapture, BadAllocBecomesOutOfMemory) {
    auto out = capture([] { throw std::bad_alloc(); });
    EXPECT_STREQ(out.sqlstate, "53200");
}

TEST(ErrorCapture, NonStandardThrowIsStillCaught) {
    destroyed = 0;
    auto out = capture([] { throw 42; });
    EXPECT_STREQ(out.sqlstate, "XX000");
    EXPECT_NE(std::strstr(out.message, "unknown"), nullptr);
    EXPECT_EQ(destroyed, 1);
}

TEST(ErrorCapture, LongMessagesAreTruncatedAndTerminated) {
    std::string huge(10000, 'm');
    auto out = capture([&] { throw coord::Error(coord::sqlstate::internal_error, huge); });
    EXPECT_EQ(std::strlen(out.message), coord::CapturedError::kTextSize - 1);
    EXPECT_STREQ(out.message + coord::CapturedError::kTextSize - 4, "...");
}

TEST(ErrorCapture, CopyBoundedHandlesNullAndTinyBuffers) {
    char buf[2] = {'z', 'z'};
    coord::copy_bounded(buf, sizeof buf, nullptr);
    EXPECT_STREQ(buf, "");
    coord::copy_bounded(buf, sizeof buf, "abc");
    EXPECT_STREQ(buf, "a");
}

}  // namespace
